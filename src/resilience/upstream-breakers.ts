// The circuit breakers of one upstream: one per endpoint, on its EndpointState, and one for the
// upstream as a whole (the all-down case). Built, reconfigured and shut down as the upstream's
// config and endpoints change (a breaker outlives reloads for an endpoint that stays); every
// transition becomes a decision, a metric and, for an endpoint's breaker, an exclusion: open
// takes the endpoint out of the picker's eligible set, half-open brings it back for its probes.

import type { Clock } from '../clock.ts';
import type { DecisionLog, DecisionKind } from '../observability/decisions.ts';
import type { UpstreamMetrics } from '../observability/metrics.ts';
import type { EndpointState } from '../proxy/upstream/endpoint-state.ts';
import { rotationOf } from './breaker-rotation.ts';
import { CircuitBreaker, type BreakerOverride, type BreakerSettings, type BreakerTransition, type BreakerView } from './circuit-breaker.ts';

const KINDS: Readonly<Record<BreakerTransition['to'], DecisionKind>> = { open: 'breaker_opened', half_open: 'breaker_half_open', closed: 'breaker_closed' };

export interface BreakerOwner {
  readonly name: string;
  readonly metrics: UpstreamMetrics;
  readonly decisions: DecisionLog;
  readonly clock: Clock;
  /** Takes the endpoint out of (or back into) the picker's eligible set. */
  setBreakerOpen(endpoint: EndpointState, open: boolean): void;
}

export interface UpstreamBreakersView {
  readonly upstream: string;
  /** The upstream's own breaker; null without policy.circuitBreaker. */
  readonly breaker: BreakerView | null;
  /** An endpoint's breaker, or only its exclusions when it has no breaker. */
  readonly endpoints: readonly ((BreakerView | Record<never, never>) & { readonly address: string; readonly exclusions: readonly string[] })[];
}

export class UpstreamBreakers {
  /** The upstream's own breaker; undefined without policy.circuitBreaker. */
  upstream: CircuitBreaker | undefined;
  private settings: BreakerSettings | undefined;

  constructor(private readonly owner: BreakerOwner) {}

  /**
   * Puts `settings` in force for the upstream and every endpoint in `endpoints`: a breaker for
   * those without one, the new settings for those with one, none at all without settings.
   * Returns whether an endpoint stopped being excluded (its picker must be rebuilt).
   */
  configure(settings: BreakerSettings | undefined, endpoints: Iterable<EndpointState>): boolean {
    this.settings = settings;
    if (settings === undefined) {
      let lifted = false;
      for (const state of endpoints) lifted = this.remove(state) || lifted;
      if (this.upstream !== undefined) this.drop(this.upstream);
      this.upstream = undefined;
      return lifted;
    }
    if (this.upstream === undefined) this.upstream = this.build(undefined, settings);
    else this.upstream.reconfigure(settings);
    for (const state of endpoints) {
      if (state.breaker === undefined) state.breaker = this.build(state, settings);
      else state.breaker.reconfigure(settings);
    }
    return false;
  }

  /** The endpoint left (or breakers were turned off): its breaker shuts down. Returns whether that lifted an exclusion. */
  remove(state: EndpointState): boolean {
    const breaker = state.breaker;
    if (breaker === undefined) return false;
    state.breaker = undefined;
    this.drop(breaker);
    return state.exclusions.set('breaker_open', false);
  }

  /** The upstream left the config. */
  close(endpoints: Iterable<EndpointState>): void {
    this.configure(undefined, endpoints);
  }

  /**
   * Every breaker with its window and last transition, and every endpoint kept off for another
   * reason (an ejection) even without breakers; undefined when there is neither.
   */
  describe(endpoints: Iterable<EndpointState>): UpstreamBreakersView | undefined {
    const views = [];
    for (const state of endpoints) {
      if (state.breaker !== undefined) views.push({ address: state.address, exclusions: state.exclusions.list(), ...state.breaker.describe() });
      else if (state.exclusions.any) views.push({ address: state.address, exclusions: state.exclusions.list() });
    }
    if (this.upstream === undefined && views.length === 0) return undefined;
    return { upstream: this.owner.name, breaker: this.upstream?.describe() ?? null, endpoints: views };
  }

  /** An operator's override of one endpoint's breaker; false when the endpoint has none. */
  force(state: EndpointState, override: BreakerOverride): boolean {
    if (state.breaker === undefined) return false;
    state.breaker.force(override);
    return true;
  }

  private build(state: EndpointState | undefined, settings: BreakerSettings): CircuitBreaker {
    const breaker = new CircuitBreaker(state?.address, settings, rotationOf(this.owner.clock), (b, transition) => this.transitioned(b, state, transition));
    this.owner.metrics.breakerPresent(state?.address ?? '', true);
    return breaker;
  }

  private drop(breaker: CircuitBreaker): void {
    breaker.shutdown();
    this.owner.metrics.breakerPresent(breaker.endpoint ?? '', false);
  }

  private transitioned(breaker: CircuitBreaker, state: EndpointState | undefined, transition: BreakerTransition): ReturnType<DecisionLog['record']> {
    const { from, to } = transition;
    if (from !== to) {
      this.owner.metrics.breakerTransition(breaker.endpoint ?? '', from, to);
      if (state !== undefined && state.breaker === breaker && (from === 'open' || to === 'open')) this.owner.setBreakerOpen(state, to === 'open');
    }
    const scope = breaker.endpoint === undefined ? `the upstream's breaker ${transition.reason}` : transition.reason;
    return this.owner.decisions.record({
      kind: transition.forced ? 'breaker_forced' : KINDS[to],
      scope: this.owner.name,
      ...(breaker.endpoint !== undefined ? { endpoint: breaker.endpoint } : {}),
      reason: scope,
      data: transition.data,
    });
  }
}
