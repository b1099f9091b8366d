// What a pick returns, as grpc-js's PickResult: a small union the call switches on, never an
// exception. Every value is preallocated: one `picked` per endpoint state, one `queue`, one
// `fail` per reason, so a pick allocates nothing.

import type { AttemptReason } from '../call/outcome.ts';
import type { ProxyErrorCode } from '../errors.ts';
import type { EndpointState } from './endpoint-state.ts';

export interface PickedEndpoint {
  readonly kind: 'picked';
  readonly endpoint: EndpointState;
}

/** The upstream has no endpoint yet (discovery has not found one): wait for the next snapshot. */
export interface QueuedPick {
  readonly kind: 'queue';
}

/** Endpoints exist but none can take the call. */
export interface FailedPick {
  readonly kind: 'fail';
  readonly code: ProxyErrorCode;
  /** What the call's outcome records. */
  readonly reason: AttemptReason;
  readonly detail: string;
}

export type PickResult = PickedEndpoint | QueuedPick | FailedPick;

export const QUEUE: QueuedPick = Object.freeze({ kind: 'queue' });

/** The upstream left the config: the calls still waiting for its first endpoint stop waiting. */
export const UPSTREAM_REMOVED: FailedPick = Object.freeze({ kind: 'fail', code: 'MESHLET_NO_HEALTHY_ENDPOINT', reason: 'no_endpoint', detail: 'the upstream was removed from the config' });

export const NO_ELIGIBLE_ENDPOINT: FailedPick = Object.freeze({ kind: 'fail', code: 'MESHLET_NO_HEALTHY_ENDPOINT', reason: 'no_endpoint', detail: 'no healthy endpoint' });

/** No endpoint is eligible, and breakers are why: fail fast, without touching the network. */
export const ENDPOINT_BREAKERS_OPEN: FailedPick = Object.freeze({ kind: 'fail', code: 'MESHLET_CIRCUIT_OPEN', reason: 'circuit_open', detail: 'the circuit breaker of every endpoint that could take the call is open' });

/** The endpoints picked are half-open and their probes are all out. */
export const PROBES_TAKEN: FailedPick = Object.freeze({ kind: 'fail', code: 'MESHLET_CIRCUIT_OPEN', reason: 'circuit_open', detail: 'the circuit breakers of the endpoints are half-open and their probes are out' });

/** A call waiting for an upstream's next snapshot; its own deadline is its business (it calls stopWaiting). */
export interface PendingPick {
  /** The next snapshot is out: pick again (and wait again if need be). */
  retryPick(): void;
}
