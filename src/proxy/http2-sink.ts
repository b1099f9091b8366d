// ResponseSink over a node:http2 server stream (client spoke h2c or gRPC).

import http2, { type ServerHttp2Stream } from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Writable } from 'node:stream';
import type { ProxyError } from './errors.ts';
import type { ResponseSink } from './response-sink.ts';

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

export class Http2Sink implements ResponseSink {
  bytesSent = 0;
  private trailers: OutgoingHttpHeaders | undefined;
  private waitingForTrailers = false;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly grpc: boolean,
  ) {}

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get body(): Writable {
    return this.stream;
  }

  start(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): void {
    if (this.stream.destroyed) return;
    headers[':status'] = status;
    this.waitingForTrailers = expectTrailers && !endStream;
    if (this.waitingForTrailers) this.stream.once('wantTrailers', this.sendTrailers);
    this.stream.respond(headers, { endStream, waitForTrailers: this.waitingForTrailers });
  }

  finish(trailers: OutgoingHttpHeaders | undefined): void {
    this.trailers = trailers;
    if (!this.stream.destroyed) this.stream.end();
  }

  reset(): void {
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  fail(error: ProxyError, upstream: string): void {
    if (this.stream.destroyed) return;
    if (this.stream.headersSent) {
      this.reset();
      return;
    }
    const message = `${upstream}: ${error.message}`;
    if (this.grpc) {
      // Trailers-only response: gRPC clients read the status from this single HEADERS frame.
      this.stream.respond({
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': String(error.grpcStatus),
        'grpc-message': encodeURIComponent(message),
        'x-meshlet-error': error.code,
      }, { endStream: true });
      return;
    }
    this.stream.respond({
      ':status': error.httpStatus,
      'content-type': 'text/plain; charset=utf-8',
      'x-meshlet-error': error.code,
    });
    this.stream.end(`${message}\n`);
  }

  private readonly sendTrailers = (): void => {
    if (this.trailers && Object.keys(this.trailers).length > 0) this.stream.sendTrailers(this.trailers);
    else this.stream.close();
  };
}
