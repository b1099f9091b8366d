// What a call is made to. An outbound Upstream (many endpoints, a picker, a policy) and an
// inbound service (one local application, its admission) are different things; a call and the
// endpoint step need only this much of either, so each keeps its own shape and its own place.

import type { UpstreamMetrics, WireProtocol } from '../../observability/metrics.ts';
import type { EndpointState } from '../upstream/endpoint-state.ts';
import type { PendingPick, PickResult } from '../upstream/pick-result.ts';
import type { Outcome } from './outcome.ts';
import type { ProxiedRequest } from './proxied-request.ts';

export type CallDirection = 'outbound' | 'inbound';

/** What ProxyCall reads of its target. */
export interface CallTarget {
  /** The metrics' and the error text's name: the upstream's, or "inbound:<service>". */
  readonly name: string;
  readonly direction: CallDirection;
  readonly metrics: UpstreamMetrics;
  readonly timeoutMs: number;
  readonly wireProtocol: WireProtocol;
  readonly settings: { readonly replayBufferLimit: number };
}

/** What the endpoint step reads of its target: an endpoint to pick, and where an attempt's start and outcome go. */
export interface EndpointTarget extends CallTarget {
  /** overflowDetail.maxPending: why a call that found the pending queue full is refused, written once per config. */
  readonly settings: { readonly replayBufferLimit: number; readonly overflowDetail: { readonly maxPending: string } };
  /** Never throws; allocates nothing. */
  pick(request: ProxiedRequest): PickResult;
  wait(waiter: PendingPick): boolean;
  stopWaiting(waiter: PendingPick): void;
  attemptStarted(endpoint: EndpointState): void;
  observe(endpoint: EndpointState, outcome: Outcome): void;
}
