// Errors the agent makes itself. Logs, metrics, the x-meshlet-error header and tests key on
// the stable code, never on the message text.

import { grpcStatusCode } from '../config/grpc-status.ts';
import { undiciErrors } from './undici-parts.ts';

export type ProxyErrorCode =
  | 'MESHLET_CONNECT_FAILED'
  | 'MESHLET_UPSTREAM_RESET'
  | 'MESHLET_UPSTREAM_TIMEOUT'
  | 'MESHLET_NO_HEALTHY_ENDPOINT'
  | 'MESHLET_BAD_UPSTREAM_RESPONSE'
  | 'MESHLET_UNKNOWN_HOST'
  | 'MESHLET_BAD_REQUEST';

interface ErrorShape {
  readonly httpStatus: number;
  readonly grpcStatus: number;
}

const SHAPES: Readonly<Record<ProxyErrorCode, ErrorShape>> = {
  MESHLET_CONNECT_FAILED: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UPSTREAM_RESET: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UPSTREAM_TIMEOUT: { httpStatus: 504, grpcStatus: grpcStatusCode('DEADLINE_EXCEEDED') },
  MESHLET_NO_HEALTHY_ENDPOINT: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_BAD_UPSTREAM_RESPONSE: { httpStatus: 502, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UNKNOWN_HOST: { httpStatus: 404, grpcStatus: grpcStatusCode('UNIMPLEMENTED') },
  MESHLET_BAD_REQUEST: { httpStatus: 400, grpcStatus: grpcStatusCode('INTERNAL') },
};

export class ProxyError extends Error {
  readonly httpStatus: number;
  readonly grpcStatus: number;

  constructor(
    readonly code: ProxyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProxyError';
    const shape = SHAPES[code];
    this.httpStatus = shape.httpStatus;
    this.grpcStatus = shape.grpcStatus;
  }
}

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT',
]);

/**
 * Sorts a transport error into the agent's error codes. `sessionUp` is false while an HTTP/2
 * session has never connected, so any failure then is a connect failure.
 */
export function classifyTransportError(err: unknown, sessionUp = true): ProxyErrorCode {
  // undici's HTTPParserError carries no code for most parse failures (it looks the numeric
  // llhttp error up in a table keyed by name), so the class is what marks a response not HTTP.
  if (err instanceof undiciErrors.HTTPParserError) return 'MESHLET_BAD_UPSTREAM_RESPONSE';
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (CONNECT_ERROR_CODES.has(code)) return 'MESHLET_CONNECT_FAILED';
    if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'ERR_HTTP2_ERROR' || code === 'ERR_HTTP2_INVALID_HEADER_VALUE') {
      return 'MESHLET_BAD_UPSTREAM_RESPONSE';
    }
    if (code === 'UND_ERR_INVALID_ARG') return 'MESHLET_BAD_REQUEST';
  }
  return sessionUp ? 'MESHLET_UPSTREAM_RESET' : 'MESHLET_CONNECT_FAILED';
}
