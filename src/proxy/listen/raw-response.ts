// An error answer written straight to a socket that no node:http response owns (a parser
// error, a refused CONNECT); the connection closes after it.

import type { Duplex } from 'node:stream';
import type { ProxyErrorCode } from '../errors.ts';

export function endWithRawResponse(socket: Duplex, status: number, reason: string, code: ProxyErrorCode, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: text/plain\r\n` +
      `x-meshlet-error: ${code}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
