// What an upstream keeps per endpoint address for as long as the address is among its
// endpoints: health flips, weight changes and policy changes replace the Endpoint value and
// the settings, never this state, so its metrics, its lease on warm connections, and the
// picker's load record for the address (kept by address in the LoadTable) carry on.

import type { Endpoint } from '../../balancer/endpoint-set.ts';
import type { EndpointMetrics } from '../../observability/metrics.ts';
import type { CircuitBreaker } from '../../resilience/circuit-breaker.ts';
import type { Forwarder } from '../forward/forwarder.ts';
import type { ForwarderLease } from '../forward/forwarder-lease.ts';
import { OutlierRecord } from '../../resilience/outlier-record.ts';
import { Exclusions } from './exclusion.ts';
import type { PickedEndpoint } from './pick-result.ts';

export class EndpointState {
  /** The pick result naming this endpoint, made once. */
  readonly picked: PickedEndpoint;
  /** What keeps calls off it besides its health (exclusion.ts); changed through Upstream.setExcluded. */
  readonly exclusions = new Exclusions();
  /** What outlier detection counts and decided for it (resilience/outlier-detector.ts). */
  readonly outlier = new OutlierRecord();
  /** Its circuit breaker while policy.circuitBreaker is set; kept across reloads, shut down when the address leaves. */
  breaker: CircuitBreaker | undefined = undefined;

  constructor(
    /** The current value: health, weight, zone as last published. */
    public endpoint: Endpoint,
    readonly metrics: EndpointMetrics,
    public lease: ForwarderLease,
  ) {
    this.picked = Object.freeze({ kind: 'picked', endpoint: this });
  }

  get address(): string {
    return this.endpoint.address;
  }

  get forwarder(): Forwarder {
    return this.lease.forwarder;
  }
}
