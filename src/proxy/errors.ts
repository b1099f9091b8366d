// Errors the agent makes itself. Logs, metrics, the x-meshlet-error header and tests key on
// the stable code, never on the message text.

import { grpcStatusCode } from '../config/grpc-status.ts';
import { undiciErrors } from './forward/undici-parts.ts';

export type ProxyErrorCode =
  | 'MESHLET_CONNECT_FAILED'
  | 'MESHLET_UPSTREAM_RESET'
  | 'MESHLET_UPSTREAM_TIMEOUT'
  | 'MESHLET_NO_HEALTHY_ENDPOINT'
  | 'MESHLET_UPSTREAM_OVERFLOW'
  | 'MESHLET_BAD_UPSTREAM_RESPONSE'
  | 'MESHLET_UNKNOWN_HOST'
  | 'MESHLET_BAD_REQUEST'
  | 'MESHLET_OVERLOADED';

interface ErrorShape {
  readonly httpStatus: number;
  readonly grpcStatus: number;
}

const SHAPES: Readonly<Record<ProxyErrorCode, ErrorShape>> = {
  MESHLET_CONNECT_FAILED: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UPSTREAM_RESET: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UPSTREAM_TIMEOUT: { httpStatus: 504, grpcStatus: grpcStatusCode('DEADLINE_EXCEEDED') },
  MESHLET_NO_HEALTHY_ENDPOINT: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UPSTREAM_OVERFLOW: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_BAD_UPSTREAM_RESPONSE: { httpStatus: 502, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UNKNOWN_HOST: { httpStatus: 404, grpcStatus: grpcStatusCode('UNIMPLEMENTED') },
  MESHLET_BAD_REQUEST: { httpStatus: 400, grpcStatus: grpcStatusCode('INTERNAL') },
  MESHLET_OVERLOADED: { httpStatus: 503, grpcStatus: grpcStatusCode('RESOURCE_EXHAUSTED') },
};

export class ProxyError extends Error {
  readonly httpStatus: number;
  readonly grpcStatus: number;

  /** `httpStatus` refines the code's status where HTTP has a more precise one (431, 505 for a bad request). */
  constructor(
    readonly code: ProxyErrorCode,
    message: string,
    httpStatus?: number,
  ) {
    super(message);
    this.name = 'ProxyError';
    const shape = SHAPES[code];
    this.httpStatus = httpStatus ?? shape.httpStatus;
    this.grpcStatus = shape.grpcStatus;
  }
}

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT',
]);

/** Codes of responses that break HTTP: the upstream answered, but not with a message we can relay. */
const BAD_RESPONSE_CODES = new Set([
  'UND_ERR_INFO', 'UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_HTTP2_ERROR', 'ERR_HTTP2_INVALID_HEADER_VALUE',
]);

/**
 * undici reports a 101 the request did not ask for, and a 100 as a final response, as a
 * SocketError with these messages (lib/dispatcher/client-h1.js) and no code of their own.
 */
const UNDICI_PROTOCOL_VIOLATIONS = new Set(['bad upgrade', 'bad response']);

/**
 * RST_STREAM(PROTOCOL_ERROR) on a stream is what nghttp2 sends itself when a response is
 * malformed (RFC 9113 §8.1.1: a bad header block, a body longer or shorter than its
 * content-length); node:http2 does not say which side sent it, and either way the exchange
 * broke HTTP rather than being cut off.
 */
const NGHTTP2_PROTOCOL_ERROR = 1;

/**
 * Sorts a transport error into the agent's error codes. `sessionUp` is false while an HTTP/2
 * session has never connected, so any failure then is a connect failure.
 */
export function classifyTransportError(err: unknown, sessionUp = true): ProxyErrorCode {
  // undici's HTTPParserError carries no code for most parse failures (it looks the numeric
  // llhttp error up in a table keyed by name), so the class is what marks a response not HTTP.
  if (err instanceof undiciErrors.HTTPParserError) return 'MESHLET_BAD_UPSTREAM_RESPONSE';
  if (err instanceof undiciErrors.SocketError && UNDICI_PROTOCOL_VIOLATIONS.has(err.message)) return 'MESHLET_BAD_UPSTREAM_RESPONSE';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (CONNECT_ERROR_CODES.has(code)) return 'MESHLET_CONNECT_FAILED';
    if (code.startsWith('HPE_') || BAD_RESPONSE_CODES.has(code)) return 'MESHLET_BAD_UPSTREAM_RESPONSE';
    if (code === 'UND_ERR_INVALID_ARG') return 'MESHLET_BAD_REQUEST';
  }
  return sessionUp ? 'MESHLET_UPSTREAM_RESET' : 'MESHLET_CONNECT_FAILED';
}

/** Sorts an HTTP/2 stream that closed with `rstCode` before its response ended. */
export function classifyStreamReset(rstCode: number, sessionUp: boolean): ProxyErrorCode {
  if (!sessionUp) return 'MESHLET_CONNECT_FAILED';
  return rstCode === NGHTTP2_PROTOCOL_ERROR ? 'MESHLET_BAD_UPSTREAM_RESPONSE' : 'MESHLET_UPSTREAM_RESET';
}
