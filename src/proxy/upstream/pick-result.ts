// What a pick returns, as grpc-js's PickResult: a small union the call switches on, never an
// exception. Every value is preallocated: one `picked` per endpoint state, one `queue`, one
// `fail` per reason, so a pick allocates nothing.

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
  readonly detail: string;
}

export type PickResult = PickedEndpoint | QueuedPick | FailedPick;

export const QUEUE: QueuedPick = Object.freeze({ kind: 'queue' });

/** The upstream left the config: the calls still waiting for its first endpoint stop waiting. */
export const UPSTREAM_REMOVED: FailedPick = Object.freeze({ kind: 'fail', code: 'MESHLET_NO_HEALTHY_ENDPOINT', detail: 'the upstream was removed from the config' });

export const NO_ELIGIBLE_ENDPOINT: FailedPick = Object.freeze({ kind: 'fail', code: 'MESHLET_NO_HEALTHY_ENDPOINT', detail: 'no healthy endpoint' });

/** A call waiting for an upstream's next snapshot; its own deadline is its business (it calls stopWaiting). */
export interface PendingPick {
  /** The next snapshot is out: pick again (and wait again if need be). */
  retryPick(): void;
}
