// Where a proxied response goes: the client's HTTP/1.1 response or HTTP/2 stream. Forwarders
// write to this one shape, so each upstream protocol works under each client protocol.

import type { OutgoingHttpHeaders } from 'node:http';
import type { Writable } from 'node:stream';
import type { ProxyError } from '../errors.ts';

/** Told how a response's end went; an HTTP/2 sink learns it only once node asks for the trailers. */
export interface ResponseEnding {
  /** The response went out whole, trailers and all. */
  responseSent(): void;
  /** The client's protocol cannot carry the trailers: the response was cut off instead. */
  trailersRefused(): void;
}

export interface ResponseSink {
  /** True once a status line / HEADERS frame went to the client: from then on errors reset. */
  readonly headersSent: boolean;
  /** Response body bytes go here (with back-pressure); never ended directly, see finish(). */
  readonly body: Writable;
  /** Bytes of response body sent so far, for the access log. */
  bytesSent: number;
  /**
   * Sends the response head; false, with nothing sent, when a header name or value is one the
   * client's protocol cannot carry (node's own validators decide).
   */
  start(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean;
  /** Ends the response, with trailers when the upstream sent any, and tells `ending` how that went. */
  finish(trailers: OutgoingHttpHeaders | undefined, ending: ResponseEnding): void;
  /** The upstream reset mid-response: reset the client too, never fake a clean end. */
  reset(): void;
  /** Answers with an error the agent made (503/504/502, or gRPC trailers-only). */
  fail(error: ProxyError, upstream: string): void;
}
