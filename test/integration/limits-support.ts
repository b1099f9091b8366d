// Upstreams that count what reaches them, started inside the test process on 127.0.0.1, and
// raw client sockets, for the connection-limit and flood tests (limits-*.test.ts).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { splitAddress } from './http-support.ts';

export interface CountingUpstream {
  readonly address: string;
  /** Requests whose head reached the upstream. */
  readonly requests: number;
  /** TCP connections the upstream accepted. */
  readonly connections: number;
  /** Of those, the ones still open. */
  readonly openConnections: number;
  /** Requests not yet answered whose connection is still open. */
  readonly inProgress: number;
  /** The most requests it had in progress at once. */
  readonly maxConcurrent: number;
  close(): Promise<void>;
}

/** An HTTP/1.1 upstream; `answer` replies to each request (default: 200 "ok" at once). */
export async function countingHttp1Upstream(answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok')): Promise<CountingUpstream> {
  const counts = { requests: 0, connections: 0, inProgress: 0, maxConcurrent: 0 };
  const server = http.createServer((req, res) => {
    counts.requests++;
    counts.inProgress++;
    counts.maxConcurrent = Math.max(counts.maxConcurrent, counts.inProgress);
    res.once('close', () => counts.inProgress--);
    answer(req, res);
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => counts.connections++);
  return listening(server, counts);
}

/** An h2c upstream; `answer` handles each stream. */
export async function countingH2Upstream(
  answer: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void,
  settings: http2.Settings = {},
): Promise<CountingUpstream> {
  const counts = { requests: 0, connections: 0, inProgress: 0, maxConcurrent: 0 };
  const server: Http2Server = http2.createServer({ settings });
  server.on('stream', (stream, headers) => {
    counts.requests++;
    counts.inProgress++;
    counts.maxConcurrent = Math.max(counts.maxConcurrent, counts.inProgress);
    stream.on('error', () => undefined);
    stream.once('close', () => counts.inProgress--);
    answer(stream, headers);
  });
  server.on('session', (session) => session.on('error', () => undefined));
  server.on('connection', () => counts.connections++);
  return listening(server, counts);
}

/** Writes `chunk` to `stream` until `totalBytes` are out, as fast as flow control lets it, then ends it. */
export function pumpBody(stream: ServerHttp2Stream, chunk: Buffer, totalBytes: number): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < totalBytes && !stream.destroyed) {
      sent += chunk.length;
      if (!stream.write(chunk)) {
        stream.once('drain', pump);
        return;
      }
    }
    if (!stream.destroyed) stream.end();
  };
  pump();
}

async function listening(server: net.Server, counts: { requests: number; connections: number; inProgress: number; maxConcurrent: number }): Promise<CountingUpstream> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    get requests() {
      return counts.requests;
    },
    get connections() {
      return counts.connections;
    },
    get openConnections() {
      return sockets.size;
    },
    get inProgress() {
      return counts.inProgress;
    },
    get maxConcurrent() {
      return counts.maxConcurrent;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw TCP connection; `closed` resolves when the peer (or we) closed it. */
export interface RawConnection {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  readonly isClosed: () => boolean;
  /** Everything received so far. */
  readonly received: () => string;
}

export function rawConnection(address: string): Promise<RawConnection> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let closed = false;
    const closedPromise = new Promise<void>((done) =>
      socket.once('close', () => {
        closed = true;
        done();
      }),
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve({ socket, closed: closedPromise, isClosed: () => closed, received: () => Buffer.concat(chunks).toString('latin1') });
    });
    socket.once('error', reject);
  });
}

/** Waits up to `timeoutMs` for `done`, checking every 20 ms; returns whether it held. */
export async function eventually(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** One GET on a fresh connection (`connection: close`); resolves with status and elapsed ms. */
export function timedGet(address: string, path = '/', timeoutMs = 10_000): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const req = http.request({ host, port, path, agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve({ status: 0, ms: performance.now() - started }));
    req.end();
  });
}

// Raw HTTP/2 frames, for a client that does what node:http2's client would not (rapid reset).
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** The client preface and an empty SETTINGS frame. */
export function h2Preface(): Buffer {
  return Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))]);
}

/** HEADERS (GET `path`, END_STREAM) for stream `id`, and at once RST_STREAM(CANCEL) for it. */
export function h2RequestAndReset(id: number, authority: string, path = '/'): Buffer {
  // HPACK: :method GET (2), :scheme http (6), then :path and :authority as literals with indexed names.
  const block = Buffer.concat([
    Buffer.from([0x82, 0x86, 0x04, path.length]),
    Buffer.from(path, 'latin1'),
    Buffer.from([0x01, authority.length]),
    Buffer.from(authority, 'latin1'),
  ]);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(0x8, 0);
  return Buffer.concat([frame(0x1, 0x5, id, block), frame(0x3, 0, id, cancel)]);
}
