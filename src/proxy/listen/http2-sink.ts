// ResponseSink over a node:http2 server stream (client spoke h2c or gRPC).

import http2, { type ServerHttp2Stream } from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Writable } from 'node:stream';
import type { ProxyError } from '../errors.ts';
import { encodeGrpcMessage } from '../grpc-message.ts';
import type { ResponseEnding, ResponseSink } from '../call/response-sink.ts';

const { NGHTTP2_NO_ERROR } = http2.constants;

/** Node resets a stream destroyed with an error with RST_STREAM(INTERNAL_ERROR). */
const upstreamBrokeOff = new Error('the upstream response broke off');

export class Http2Sink implements ResponseSink {
  bytesSent = 0;
  private trailers: OutgoingHttpHeaders | undefined;
  private waitsForTrailers = false;
  /** Set while the stream waits for node to ask for trailers (respond's waitForTrailers). */
  private ending: ResponseEnding | undefined;

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

  start(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean {
    // A client already gone needs no answer: the call settles on the stream's close.
    if (this.stream.destroyed || this.stream.closed) return true;
    headers[':status'] = status;
    const waitForTrailers = expectTrailers && !endStream;
    try {
      // Validates names, connection-specific headers and the status before it sends anything.
      this.stream.respond(headers, { endStream, waitForTrailers });
    } catch {
      return false;
    }
    // Emitted once, after the body: `on` spares the wrapper `once` allocates per call.
    if (waitForTrailers) this.stream.on('wantTrailers', this.sendTrailers);
    this.waitsForTrailers = waitForTrailers;
    return true;
  }

  finish(trailers: OutgoingHttpHeaders | undefined, ending: ResponseEnding): void {
    this.trailers = trailers;
    if (this.stream.destroyed) return;
    // Whether node takes the trailers is known only once it asks for them, after the body.
    if (this.waitsForTrailers) this.ending = ending;
    this.stream.end();
    if (!this.waitsForTrailers) ending.responseSent();
  }

  reset(): void {
    const stream = this.stream;
    // Closed with an error code, the stream has its RST_STREAM on the way: node emits 'aborted'
    // (which may be what called this) before it submits the frame, and destroys the stream
    // once the frame is out. Destroyed now, the frame would never be sent and the client would
    // wait for good.
    if (stream.destroyed || (stream.closed && stream.rstCode !== NGHTTP2_NO_ERROR)) return;
    // close() would end the stream (END_STREAM) before resetting it, and the client would take
    // the truncated body for a whole one; destroying with an error sends RST_STREAM alone.
    stream.destroy(upstreamBrokeOff);
  }

  fail(error: ProxyError, upstream: string): void {
    if (this.stream.destroyed || this.stream.closed) return;
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
        'grpc-message': encodeGrpcMessage(message),
        'x-meshlet-error': error.code,
        // A gRPC client's retry policy waits this long before its next attempt (gRFC A6).
        ...(error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds), 'grpc-retry-pushback-ms': String(error.retryAfterSeconds * 1000) } : {}),
      }, { endStream: true });
      return;
    }
    this.stream.respond({
      ':status': error.httpStatus,
      'content-type': 'text/plain; charset=utf-8',
      'x-meshlet-error': error.code,
      ...(error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds) } : {}),
    });
    this.stream.end(`${message}\n`);
  }

  private readonly sendTrailers = (): void => {
    // Empty trailers make node end the stream with an empty END_STREAM DATA frame; close()
    // would send RST_STREAM, which some clients count as an error after a whole response.
    // node emits this from its write path, so a throw here would take the process down;
    // trailers it refuses cannot be carried, and the stream, whose body is out, is reset.
    const ending = this.ending;
    this.ending = undefined;
    try {
      this.stream.sendTrailers(this.trailers ?? {});
    } catch {
      this.reset();
      ending?.trailersRefused();
      return;
    }
    ending?.responseSent();
  };
}
