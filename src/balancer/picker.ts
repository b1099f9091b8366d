// The seam between the control path (endpoint updates) and the data path (one pick per
// request). A Picker is built once per EndpointSet; the request path only calls pick() and
// reports start/end so load-aware algorithms see in-flight counts and latency.

import type { Endpoint } from './endpoint-set.ts';

/** What a pick may look at, extracted once per request by a pre-bound extractor. */
export interface PickRequest {
  /** Hash key for ring_hash / maglev (header value, cookie value or source address); undefined → random pick. */
  readonly hashKey?: string | undefined;
}

export interface Picker {
  readonly algorithm: string;
  /** Returns an eligible endpoint, or undefined when none can take the call. Never throws. */
  pick(request: PickRequest): Endpoint | undefined;
  /** A request to `endpoint` started. */
  onStart(endpoint: Endpoint): void;
  /**
   * A request to `endpoint` ended after `latencyMs` (undefined when its end says nothing of the
   * endpoint's speed: the client went away); `failed` as the attempt's outcome says.
   */
  onEnd(endpoint: Endpoint, latencyMs: number | undefined, failed: boolean): void;
  /** Per-endpoint picker state for the admin API (in-flight, EWMA, weight share, ...). */
  describe(): PickerState;
}

export interface EndpointPickerState {
  readonly address: string;
  readonly inFlight: number;
  readonly [key: string]: number | string | boolean | undefined;
}

export interface PickerState {
  readonly algorithm: string;
  readonly endpoints: readonly EndpointPickerState[];
  readonly [key: string]: unknown;
}
