// ResponseSink over a node:http ServerResponse (client spoke HTTP/1.1).

import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import type { ProxyError } from '../errors.ts';
import type { ResponseEnding, ResponseSink } from '../call/response-sink.ts';

export class Http1Sink implements ResponseSink {
  bytesSent = 0;

  constructor(private readonly res: ServerResponse) {}

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get body(): Writable {
    return this.res;
  }

  start(status: number, headers: OutgoingHttpHeaders, endStream: boolean): boolean {
    // A response without a body has no trailer section to announce. node refuses Trailer on
    // one from inside writeHead, after it has marked the response bodiless, so the 502 sent in
    // its place would keep its Content-Length but lose its body and leave the client waiting.
    if (endStream || status === 204 || status === 304) delete headers.trailer;
    try {
      // Validates every name and value before it writes anything.
      this.res.writeHead(status, headers);
    } catch {
      return false;
    }
    if (endStream) this.res.end();
    return true;
  }

  finish(trailers: OutgoingHttpHeaders | undefined, ending: ResponseEnding): void {
    if (trailers && this.res.chunkedEncoding) {
      try {
        this.res.addTrailers(trailers as Record<string, string>);
      } catch {
        ending.trailersRefused();
        return;
      }
    }
    this.res.end();
    ending.responseSent();
  }

  reset(): void {
    this.res.destroy();
  }

  fail(error: ProxyError, upstream: string): void {
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    const body = `${upstream}: ${error.message}\n`;
    this.res.writeHead(error.httpStatus, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-meshlet-error': error.code,
      ...(error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds) } : {}),
    });
    this.res.end(body);
  }
}
