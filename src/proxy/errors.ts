// Errors the agent makes itself. Logs, metrics, the x-meshlet-error header and tests key on
// the stable code, never on the message text.

import { grpcStatusCode } from '../config/grpc-status.ts';

export type ProxyErrorCode =
  | 'MESHLET_CONNECT_FAILED'
  | 'MESHLET_UPSTREAM_RESET'
  | 'MESHLET_UPSTREAM_TIMEOUT'
  | 'MESHLET_NO_HEALTHY_ENDPOINT'
  | 'MESHLET_UPSTREAM_OVERFLOW'
  | 'MESHLET_BAD_UPSTREAM_RESPONSE'
  | 'MESHLET_UNKNOWN_HOST'
  | 'MESHLET_BAD_REQUEST'
  | 'MESHLET_OVERLOADED'
  | 'MESHLET_RATE_LIMITED'
  | 'MESHLET_CIRCUIT_OPEN';

export interface ErrorShape {
  readonly httpStatus: number;
  readonly grpcStatus: number;
}

const SHAPES: Readonly<Record<ProxyErrorCode, ErrorShape>> = {
  MESHLET_CONNECT_FAILED: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UPSTREAM_RESET: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UPSTREAM_TIMEOUT: { httpStatus: 504, grpcStatus: grpcStatusCode('DEADLINE_EXCEEDED') },
  MESHLET_NO_HEALTHY_ENDPOINT: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  // Envoy's overflows: a limit of the agent's own, which a gRPC client should not retry at once.
  MESHLET_UPSTREAM_OVERFLOW: { httpStatus: 503, grpcStatus: grpcStatusCode('RESOURCE_EXHAUSTED') },
  MESHLET_BAD_UPSTREAM_RESPONSE: { httpStatus: 502, grpcStatus: grpcStatusCode('UNAVAILABLE') },
  MESHLET_UNKNOWN_HOST: { httpStatus: 404, grpcStatus: grpcStatusCode('UNIMPLEMENTED') },
  MESHLET_BAD_REQUEST: { httpStatus: 400, grpcStatus: grpcStatusCode('INTERNAL') },
  MESHLET_OVERLOADED: { httpStatus: 503, grpcStatus: grpcStatusCode('RESOURCE_EXHAUSTED') },
  MESHLET_RATE_LIMITED: { httpStatus: 429, grpcStatus: grpcStatusCode('RESOURCE_EXHAUSTED') },
  MESHLET_CIRCUIT_OPEN: { httpStatus: 503, grpcStatus: grpcStatusCode('UNAVAILABLE') },
};

/** The HTTP and gRPC status a client is answered with for `code`. */
export function errorShape(code: ProxyErrorCode): ErrorShape {
  return SHAPES[code];
}

export class ProxyError extends Error {
  readonly httpStatus: number;
  readonly grpcStatus: number;

  /**
   * `httpStatus` refines the code's status where HTTP has a more precise one (431, 505 for a bad
   * request); `retryAfterSeconds`, for a refusal that knows when to come back, is sent as `retry-after`.
   */
  constructor(
    readonly code: ProxyErrorCode,
    message: string,
    httpStatus?: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ProxyError';
    const shape = SHAPES[code];
    this.httpStatus = httpStatus ?? shape.httpStatus;
    this.grpcStatus = shape.grpcStatus;
  }
}
