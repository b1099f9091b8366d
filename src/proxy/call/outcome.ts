// How one attempt ended, classified once, where the attempt ends. Everything that learns from
// attempts reads this one value: the picker's load and latency, the metrics, the access log,
// and next the breakers, outlier detection and retry budgets. The transport reason is a field,
// never message text, so a retry policy can act on "refused stream" without parsing anything.

import { grpcStatusCode } from '../../config/grpc-status.ts';
import type { ProxyErrorCode } from '../errors.ts';

/** Why an attempt ended without a whole response from the endpoint; undefined when it had one. */
export type AttemptReason =
  /** No connection: refused, unreachable, or a session that never came up. Nothing was sent. */
  | 'connect_failed'
  | 'connect_timeout'
  /** The connection or stream broke before the response head. */
  | 'reset_before_headers'
  /** ... or after it, mid-body. */
  | 'reset_after_headers'
  /** HTTP/2 REFUSED_STREAM: the endpoint did not process the request (RFC 9113 §8.7). */
  | 'refused_stream'
  /** The stream was above a GOAWAY's last stream id: not processed either. */
  | 'goaway'
  /** The call's deadline (or, next, a per-try timeout) ran out. */
  | 'timeout'
  /** The client went away, or the call ended the attempt (a hedge lost, say). */
  | 'cancelled'
  /** The endpoint answered, but not with a message that can be relayed. */
  | 'bad_response'
  /** The request cannot be sent as it is (undici refuses it); not the endpoint's failure. */
  | 'bad_request'
  /** The endpoint's connections and queue are full. Nothing was sent. */
  | 'overflow'
  /** An upstream-wide limit of the agent's (policy.limits) refused the call. Nothing was sent, and nothing would be sent elsewhere. */
  | 'upstream_overflow'
  /** No endpoint could take the attempt: none was tried. */
  | 'no_endpoint'
  /** A circuit breaker kept the call off the network: the upstream's is open, or every endpoint's. */
  | 'circuit_open';

export interface Outcome {
  /** The endpoint's final HTTP status, 0 when none arrived. */
  readonly status: number;
  /** From the trailers, or a trailers-only response's headers; undefined when the response had none. */
  readonly grpcStatus: number | undefined;
  readonly reason: AttemptReason | undefined;
  /** Counts against the endpoint: its picker, and next its breaker and outlier record. */
  readonly failed: boolean;
  /** From the attempt's start to its end; undefined when it says nothing of the endpoint (cancelled, never sent). */
  readonly latencyMs: number | undefined;
}

/**
 * gRPC codes that mean the server side failed, as Envoy maps them to 5xx for outlier detection:
 * UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE, DATA_LOSS. The rest (NOT_FOUND,
 * INVALID_ARGUMENT, ...) are the application's answers.
 */
const FAILED_GRPC = new Set((['UNKNOWN', 'DEADLINE_EXCEEDED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS'] as const).map((name) => grpcStatusCode(name)));

/**
 * Reasons that say nothing against the endpoint: the client's doing, a request no endpoint
 * could take, and an overflow of the agent's own queue for it (as Envoy's overflows, which
 * no outlier detector counts).
 */
const NOT_THE_ENDPOINTS = new Set<AttemptReason>(['cancelled', 'bad_request', 'overflow', 'upstream_overflow', 'no_endpoint', 'circuit_open']);

/** Reasons after which the request is known not to have been processed: always safe to send again. */
const NEVER_PROCESSED = new Set<AttemptReason>(['connect_failed', 'connect_timeout', 'refused_stream', 'goaway', 'overflow']);

export function isFailure(status: number, grpcStatus: number | undefined, reason: AttemptReason | undefined): boolean {
  if (reason !== undefined) return !NOT_THE_ENDPOINTS.has(reason);
  return status >= 500 || (grpcStatus !== undefined && FAILED_GRPC.has(grpcStatus));
}

export function outcomeOf(status: number, grpcStatus: number | undefined, reason: AttemptReason | undefined, latencyMs: number | undefined): Outcome {
  return {
    status,
    grpcStatus,
    reason,
    failed: isFailure(status, grpcStatus, reason),
    latencyMs: reason !== undefined && NOT_THE_ENDPOINTS.has(reason) ? undefined : latencyMs,
  };
}

/** Whether the outcome says anything of the endpoint (a breaker counts it); a cancel or an overflow says nothing. */
export function judgesEndpoint(outcome: Outcome): boolean {
  return outcome.reason === undefined || !NOT_THE_ENDPOINTS.has(outcome.reason);
}

/** The request never reached the endpoint's application, so sending it elsewhere is always safe. */
export function neverProcessed(reason: AttemptReason | undefined): boolean {
  return reason !== undefined && NEVER_PROCESSED.has(reason);
}

const ERROR_CODES: Readonly<Record<AttemptReason, ProxyErrorCode | undefined>> = {
  connect_failed: 'MESHLET_CONNECT_FAILED',
  connect_timeout: 'MESHLET_CONNECT_FAILED',
  reset_before_headers: 'MESHLET_UPSTREAM_RESET',
  reset_after_headers: 'MESHLET_UPSTREAM_RESET',
  refused_stream: 'MESHLET_UPSTREAM_RESET',
  goaway: 'MESHLET_UPSTREAM_RESET',
  timeout: 'MESHLET_UPSTREAM_TIMEOUT',
  cancelled: undefined,
  bad_response: 'MESHLET_BAD_UPSTREAM_RESPONSE',
  bad_request: 'MESHLET_BAD_REQUEST',
  overflow: 'MESHLET_UPSTREAM_OVERFLOW',
  upstream_overflow: 'MESHLET_UPSTREAM_OVERFLOW',
  no_endpoint: 'MESHLET_NO_HEALTHY_ENDPOINT',
  circuit_open: 'MESHLET_CIRCUIT_OPEN',
};

/** The typed error a client is answered with when its call ends for `reason` (none for a cancel). */
export function errorCodeFor(reason: AttemptReason): ProxyErrorCode | undefined {
  return ERROR_CODES[reason];
}
