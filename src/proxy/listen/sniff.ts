// One port, two protocols: HTTP/2 with prior knowledge starts with the client preface
// "PRI * HTTP/2.0", which no HTTP/1.1 request line does. The first bytes are read, pushed
// back, and the socket handed to the matching server (node:http2 replays buffered bytes).
// The frontend's headers timeout covers the sniffing too: a connection that sends one byte and
// stops is closed like one that stops in the middle of a request head.

import type { Duplex } from 'node:stream';
import type { CallTarget } from '../call/call-target.ts';
import type { HttpFrontend } from './frontend.ts';

const PREFACE_START = Buffer.from('PRI ');

export function sniffAndServe(socket: Duplex, frontend: HttpFrontend<CallTarget>): void {
  socket.on('error', destroyQuietly);
  frontend.adopt(socket);
  let seen: Buffer = Buffer.alloc(0);
  const onReadable = (): void => {
    try {
      handOver();
    } catch (err) {
      frontend.reportInternalError('sniff', err);
      socket.destroy();
    }
  };
  const handOver = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    if (seen.length === 0) return;
    const compared = Math.min(seen.length, PREFACE_START.length);
    const looksLikeHttp2 = seen.subarray(0, compared).equals(PREFACE_START.subarray(0, compared));
    if (looksLikeHttp2 && seen.length < PREFACE_START.length) return;
    socket.removeListener('readable', onReadable);
    socket.removeListener('end', onEnd);
    socket.removeListener('error', destroyQuietly);
    socket.unshift(seen);
    if (looksLikeHttp2) frontend.acceptHttp2(socket);
    else frontend.acceptHttp1(socket);
  };
  const onEnd = (): void => {
    socket.destroy();
  };
  socket.on('readable', onReadable);
  socket.once('end', onEnd);
}

function destroyQuietly(this: Duplex): void {
  this.destroy();
}
