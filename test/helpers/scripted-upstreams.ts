// Misbehaving upstreams for tests and the fuzz run: servers on 127.0.0.1 that answer every
// request with whatever bytes (HTTP/1.1) or frames (HTTP/2) the test scripted, valid or not.
// Each answers with its current script; callers that share one send one request at a time.
import net from 'node:net';
import {
  CLIENT_PREFACE, FrameReader, FrameType, Flag, SETTINGS_ACK, SETTINGS_FRAME, encodeFrame, goawayFrame, headersFrame, rstStreamFrame,
} from './h2-wire.ts';

/** How the upstream leaves the connection after its answer. */
export type ConnectionEnd = 'close' | 'reset' | 'keep';

export interface Http1Script {
  readonly response: Buffer;
  readonly end: ConnectionEnd;
}

export type Http2Action =
  | { readonly kind: 'headers'; readonly fields: ReadonlyArray<readonly [string, string]>; readonly endStream: boolean }
  | { readonly kind: 'data'; readonly bytes: Buffer; readonly endStream: boolean }
  | { readonly kind: 'rst'; readonly code: number }
  | { readonly kind: 'goaway'; readonly code: number }
  | { readonly kind: 'frame'; readonly type: number; readonly flags: number; readonly payload: Buffer }
  | { readonly kind: 'close' };

export interface ScriptedUpstream<Script> {
  readonly address: string;
  /** The answer to every request from now on. */
  script: Script;
  close(): Promise<void>;
}

function listen(server: net.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)));
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
}

function track(sockets: Set<net.Socket>, socket: net.Socket): void {
  sockets.add(socket);
  // A script's frames go out as written; otherwise each write after the first waits out the
  // agent's delayed ACK (~40 ms), which would make up most of a fuzz case's time.
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  socket.once('close', () => sockets.delete(socket));
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/**
 * Bytes a complete request takes at the start of `buffer` (head and body, by Content-Length
 * or chunked), or -1 while it is incomplete. The agent sends well-formed requests upstream.
 */
function requestLength(buffer: Buffer): number {
  const headEnd = buffer.indexOf(HEAD_END);
  if (headEnd < 0) return -1;
  const head = buffer.subarray(0, headEnd).toString('latin1').toLowerCase();
  let at = headEnd + HEAD_END.length;
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
    for (;;) {
      const lineEnd = buffer.indexOf(CRLF, at);
      if (lineEnd < 0) return -1;
      const size = parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0) {
        const trailersEnd = buffer.indexOf(CRLF, lineEnd + 2);
        // Trailers (the agent sends none upstream) end at the first empty line.
        return trailersEnd === lineEnd + 2 ? trailersEnd + 2 : buffer.indexOf(HEAD_END, lineEnd) < 0 ? -1 : buffer.indexOf(HEAD_END, lineEnd) + 4;
      }
      at = lineEnd + 2 + size + 2;
      if (buffer.length < at) return -1;
    }
  }
  const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
  at += length ? Number(length[1]) : 0;
  return buffer.length < at ? -1 : at;
}

/** Answers each request (its body read and ignored) with the script's bytes. */
export async function startScriptedHttp1Upstream(script: Http1Script): Promise<ScriptedUpstream<Http1Script>> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    track(sockets, socket);
    let seen: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      let length: number;
      while ((length = requestLength(seen)) >= 0) {
        seen = seen.subarray(length);
        const { response, end } = upstream.script;
        if (end === 'reset') {
          socket.write(response, () => socket.resetAndDestroy());
          return;
        }
        if (end === 'close') {
          socket.end(response);
          return;
        }
        socket.write(response);
      }
    });
  });
  const upstream: ScriptedUpstream<Http1Script> = { address: await listen(server), script, close: closer(server, sockets) };
  return upstream;
}

/** Speaks just enough HTTP/2 to take requests, and answers each new stream with the script's frames. */
export async function startScriptedHttp2Upstream(script: readonly Http2Action[]): Promise<ScriptedUpstream<readonly Http2Action[]>> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    track(sockets, socket);
    socket.write(SETTINGS_FRAME);
    const reader = new FrameReader();
    let prefaceLeft = CLIENT_PREFACE.length;
    socket.on('data', (chunk: Buffer) => {
      if (prefaceLeft > 0) {
        const skipped = Math.min(prefaceLeft, chunk.length);
        prefaceLeft -= skipped;
        chunk = chunk.subarray(skipped);
      }
      for (const frame of reader.push(chunk)) {
        if (frame.type === FrameType.SETTINGS && (frame.flags & Flag.ACK) === 0) socket.write(SETTINGS_ACK);
        else if (frame.type === FrameType.PING && (frame.flags & Flag.ACK) === 0) socket.write(encodeFrame(FrameType.PING, Flag.ACK, 0, frame.payload));
        else if (frame.type === FrameType.HEADERS) answer(socket, frame.streamId, upstream.script);
      }
    });
  });
  const upstream: ScriptedUpstream<readonly Http2Action[]> = { address: await listen(server), script, close: closer(server, sockets) };
  return upstream;
}

function answer(socket: net.Socket, streamId: number, actions: readonly Http2Action[]): void {
  for (const action of actions) {
    switch (action.kind) {
      case 'headers':
        socket.write(headersFrame(streamId, action.fields, action.endStream));
        break;
      case 'data':
        socket.write(encodeFrame(FrameType.DATA, action.endStream ? Flag.END_STREAM : 0, streamId, action.bytes));
        break;
      case 'rst':
        socket.write(rstStreamFrame(streamId, action.code));
        break;
      case 'goaway':
        socket.write(goawayFrame(streamId, action.code));
        break;
      case 'frame':
        socket.write(encodeFrame(action.type, action.flags, streamId, action.payload));
        break;
      case 'close':
        // end(), not destroy(): what was written above still goes out first.
        socket.end();
        return;
    }
  }
}
