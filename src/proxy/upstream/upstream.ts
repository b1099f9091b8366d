// One upstream, alive as long as its name is in the config. It keeps per endpoint address an
// EndpointState (metrics, a lease on the forwarder's connections), the settings its config
// gives (replaced whole on a policy change), and an immutable picker snapshot swapped whenever
// endpoints, health or `lb` change, so none of those changes drops warm connections or resets
// load, latency estimates or the rotation. Changes come in two steps: a pure prepare that may
// fail, and a commit that cannot.

import type { Clock, Random } from '../../clock.ts';
import type { OutlierDetectionConfig, Protocol, UpstreamConfig } from '../../config/types.ts';
import { LIMITS_DEFAULTS, REPLAY_BUFFER_LIMIT } from '../../config/defaults.ts';
import { eligibility, endpointSet, type Eligibility, type Endpoint, type EndpointHealth, type EndpointSet, type ExclusionCheck } from '../../balancer/endpoint-set.ts';
import type { Picker } from '../../balancer/picker.ts';
import { createPicker } from '../../balancer/registry.ts';
import type { DecisionCounter, DecisionLog } from '../../observability/decisions.ts';
import type { MeshletMetrics, UpstreamMetrics, WireProtocol } from '../../observability/metrics.ts';
import type { ForwarderSettings } from '../forward/forwarder.ts';
import type { ForwarderPool, ForwarderTarget, Transport } from '../forward/forwarder-pool.ts';
import type { ProxiedRequest } from '../call/proxied-request.ts';
import type { Outcome } from '../call/outcome.ts';
import { ExtraAttempts } from '../../resilience/extra-attempts.ts';
import { LatencyQuantile } from '../../resilience/latency-quantile.ts';
import { OutlierDetector, type OutlierHost } from '../../resilience/outlier-detector.ts';
import { hedgeRules, retryRules, type HedgeRules, type RetryRules } from '../../resilience/retry-rules.ts';
import { breakerSettings, type BreakerOverride, type BreakerSettings } from '../../resilience/circuit-breaker.ts';
import { UpstreamBreakers, type UpstreamBreakersView } from '../../resilience/upstream-breakers.ts';
import { EndpointState } from './endpoint-state.ts';
import type { Exclusion } from './exclusion.ts';
import { Reachability, type ConnectProbe } from './reachability.ts';
import { hashKeyExtractor, type HashKeyExtractor } from './hash-key.ts';
import { ENDPOINT_BREAKERS_OPEN, NO_ELIGIBLE_ENDPOINT, QUEUE, UPSTREAM_REMOVED, type PendingPick, type PickedEndpoint, type PickResult } from './pick-result.ts';
import { FallbackPlan } from '../../resilience/fallback-plan.ts';
import { UpstreamRateLimit } from '../../resilience/rate-limit-step.ts';

export interface UpstreamDependencies {
  readonly clock: Clock;
  readonly random: Random;
  readonly metrics: MeshletMetrics;
  readonly forwarders: ForwarderPool;
  /** Where breakers, ejections and other decisions about this upstream are recorded. */
  readonly decisions: DecisionLog;
  /** How an unreachable endpoint is tried again (reachability.ts): a TCP connect in the agent. */
  readonly connectProbe: ConnectProbe;
}

/** How each configured protocol is spoken to its endpoints (also an inbound service's). */
export const WIRE: Readonly<Record<Protocol, WireProtocol>> = { http: 'http1', http2: 'http2', grpc: 'grpc' };

/** What the upstream's config says about calling it, derived once per config. */
export interface UpstreamSettings {
  readonly config: UpstreamConfig;
  readonly wireProtocol: WireProtocol;
  readonly transport: Transport;
  readonly timeoutMs: number;
  readonly hashKeyOf: HashKeyExtractor;
  /** Calls that may wait for a first endpoint (policy.limits.maxPending). */
  readonly maxPending: number;
  /** Attempts in flight to the upstream at once (policy.limits.maxConcurrent); Infinity without a limits section. */
  readonly maxConcurrent: number;
  /** What a call refused for each limit is told, written once per config. */
  readonly overflowDetail: { readonly maxConcurrent: string; readonly maxPending: string };
  /** policy.circuitBreaker, undefined without one. */
  readonly breaker: BreakerSettings | undefined;
  /** Request body bytes one call holds for another attempt (policy.retry.bufferLimit, also without a retry section). */
  readonly replayBufferLimit: number;
  readonly forwarder: ForwarderSettings;
  /** policy.outlierDetection; undefined when the upstream has none. */
  readonly outlierDetection: OutlierDetectionConfig | undefined;
  /** policy.panicThreshold, percent. */
  readonly panicThreshold: number;
  /**
   * policy.fallback and policy.rateLimit. They hold state (the stale cache, the bucket's tokens),
   * so a reload that leaves their section as it was keeps them: a reload grants no fresh burst.
   */
  readonly fallback: FallbackPlan | undefined;
  readonly rateLimit: UpstreamRateLimit | undefined;
  /** policy.retry as the retry step reads it; undefined when the upstream has no retry section. */
  readonly retry: RetryRules | undefined;
  /** policy.hedge as the hedge step reads it; undefined when the upstream does not hedge. */
  readonly hedge: HedgeRules | undefined;
  /** The hedge waits for the p95 of the upstream's latencies: every good attempt's latency is recorded. */
  readonly tracksLatency: boolean;
}

/** `previous`, the settings in force, lends the stateful parts whose config did not change. */
export function upstreamSettings(config: UpstreamConfig, clock: Clock, previous?: UpstreamSettings): UpstreamSettings {
  const { policy } = config;
  const before = previous?.config.policy;
  const limits = policy.limits ?? LIMITS_DEFAULTS;
  // Without a limits section only maxPending applies (it has always bounded the first-endpoint queue).
  const maxConcurrent = policy.limits?.maxConcurrent ?? Infinity;
  return {
    config,
    wireProtocol: WIRE[config.protocol],
    transport: config.protocol === 'http' ? 'h1' : 'h2',
    timeoutMs: policy.timeout,
    hashKeyOf: hashKeyExtractor(policy.lb.hashOn),
    maxPending: limits.maxPending,
    maxConcurrent,
    overflowDetail: {
      maxConcurrent: `policy.limits.maxConcurrent: ${maxConcurrent} requests are in flight to upstream ${config.name} already`,
      maxPending: `policy.limits.maxPending: upstream ${config.name} has no endpoint yet and ${limits.maxPending} calls wait for one already`,
    },
    breaker: policy.circuitBreaker === undefined ? undefined : breakerSettings(policy.circuitBreaker),
    replayBufferLimit: policy.retry?.bufferLimit ?? REPLAY_BUFFER_LIMIT,
    forwarder: { connectTimeoutMs: policy.connectTimeout },
    outlierDetection: policy.outlierDetection,
    panicThreshold: policy.panicThreshold,
    fallback: policy.fallback && (sameSection(policy.fallback, before?.fallback) ? previous!.fallback : new FallbackPlan(policy.fallback, clock)),
    rateLimit: policy.rateLimit && (sameSection(policy.rateLimit, before?.rateLimit) ? previous!.rateLimit : new UpstreamRateLimit(clock, policy.rateLimit)),
    retry: policy.retry ? retryRules(policy.retry, policy) : undefined,
    hedge: policy.hedge ? hedgeRules(policy.hedge, policy) : undefined,
    tracksLatency: policy.hedge?.delay === 'p95',
  };
}

/** Parsed sections are plain data, written in the schema's order: equal text is an equal section. */
function sameSection(section: object, before: object | undefined): boolean {
  return before !== undefined && JSON.stringify(section) === JSON.stringify(before);
}

/** What /api/v1/upstreams shows of one upstream (and the control plane's reports read). */
export interface UpstreamView {
  readonly name: string;
  readonly protocol: Protocol;
  readonly listen: string | null;
  readonly algorithm: string;
  readonly panic: boolean;
  readonly timeoutMs: number;
  readonly endpoints: {
    readonly address: string;
    readonly weight: number;
    readonly zone: string | null;
    readonly backup: boolean;
    readonly health: EndpointHealth;
    readonly excluded: Exclusion[];
    readonly outlier: { readonly ejections: number; readonly ejectionLeftMs: number | null };
    readonly picker: unknown;
  }[];
}

/** A change prepared for an upstream: nothing of it is in force until commit(). */
export interface UpstreamChange {
  readonly settings: UpstreamSettings;
  readonly set: EndpointSet;
  readonly picker: Picker;
  readonly eligibility: Eligibility;
}

/** What pickers are built from at one moment; replaced whole, never changed. */
interface PickerSnapshot {
  readonly set: EndpointSet;
  readonly picker: Picker;
  readonly picks: ReadonlyMap<Endpoint, PickedEndpoint>;
}

/** What a change is built on: the running snapshot, or nothing yet for a new upstream. */
type Predecessor = Pick<PickerSnapshot, 'set'> & { readonly picker?: Picker };

const NOTHING_YET: Predecessor = { set: endpointSet([], 0) };

/**
 * The change that makes `current` (undefined for an upstream not running yet) serve `config`.
 * Pure: builds the picker and nothing else. Throws BalancerConfigError when the picker cannot
 * be built. Static endpoints keep the health the running upstream knows for their address.
 */
export function prepareUpstream(config: UpstreamConfig, deps: Pick<UpstreamDependencies, 'clock' | 'random'>, current?: Upstream): UpstreamChange {
  const endpoints = config.endpoints.map((e): Endpoint => ({ ...e, health: current?.healthOf(e.address) ?? 'unknown' }));
  return buildChange(upstreamSettings(config, deps.clock, current?.settings), endpoints, current?.snapshotNow ?? NOTHING_YET, deps, current?.excluded);
}

function buildChange(
  settings: UpstreamSettings,
  endpoints: readonly Endpoint[],
  previous: Predecessor,
  deps: Pick<UpstreamDependencies, 'clock' | 'random'>,
  excluded?: ExclusionCheck,
): UpstreamChange {
  const set = endpointSet(endpoints, previous.set.version + 1);
  const eligible = eligibility(set, excluded, settings.panicThreshold);
  const picker = createPicker(settings.config.policy.lb, set, deps, previous.picker, eligible.endpoints);
  return { settings, set, picker, eligibility: eligible };
}

export class Upstream implements OutlierHost {
  readonly name: string;
  readonly direction = 'outbound';
  readonly metrics: UpstreamMetrics;
  /** Retries and hedges beyond each call's first attempt: the shared budget and in-flight limit. */
  readonly extraAttempts: ExtraAttempts;
  /** Recent attempt latencies over all endpoints, kept only while policy.hedge waits for their p95. */
  readonly latency: LatencyQuantile;
  private current: UpstreamSettings;
  private snapshot: PickerSnapshot;
  private readonly states = new Map<string, EndpointState>();
  /** Calls waiting for the next snapshot, in arrival order. */
  private waiting = new Set<PendingPick>();
  /** The batch being retried right now, so a stopWaiting during the retries still counts. */
  private retrying: Set<PendingPick> | undefined;
  /** Its circuit breakers: the upstream's own and, on each EndpointState, the endpoints'. */
  readonly breakers: UpstreamBreakers;
  private readonly overflows: DecisionCounter;
  /** Attempts started and not yet observed, for policy.limits.maxConcurrent. */
  inFlight = 0;
  /** Reused by every pick: pickers read it and keep nothing of it. */
  private readonly pickRequest: { hashKey: string | undefined } = { hashKey: undefined };
  private readonly outliers: OutlierDetector;
  private readonly reachability: Reachability;
  /** Left the config: no call waits for it any more. */
  private closed = false;
  /** Whether the published picker spreads over more primaries than are eligible (endpoint-set.ts). */
  private panic = false;
  /** Per-call decisions of the degrade steps (fallback-step.ts, rate-limit-step.ts), bound once. */
  readonly fallbackDecisions: DecisionCounter;
  readonly rateLimitDecisions: DecisionCounter;

  /** Commits `change` (from prepareUpstream with no current upstream) as a new upstream. */
  constructor(
    change: UpstreamChange,
    private readonly deps: UpstreamDependencies,
  ) {
    this.name = change.settings.config.name;
    this.metrics = deps.metrics.bindUpstream(this.name);
    this.fallbackDecisions = deps.decisions.counter('fallback', this.name);
    this.rateLimitDecisions = deps.decisions.counter('rate_limited', this.name);
    this.latency = new LatencyQuantile(deps.clock);
    this.extraAttempts = new ExtraAttempts(deps.clock, this.metrics, deps.decisions.counter('budget_exhausted', this.name));
    this.breakers = new UpstreamBreakers({
      name: this.name,
      metrics: this.metrics,
      decisions: deps.decisions,
      clock: deps.clock,
      setBreakerOpen: (endpoint, open) => this.setExcluded(endpoint, 'breaker_open', open),
    });
    this.overflows = deps.decisions.counter('overflow', this.name);
    this.current = change.settings;
    // Replaced by the commit below, once the endpoint states it names exist.
    this.snapshot = { set: NOTHING_YET.set, picker: change.picker, picks: new Map() };
    this.outliers = new OutlierDetector(this, { clock: deps.clock, decisions: deps.decisions, metrics: this.metrics });
    this.reachability = new Reachability(
      {
        name: this.name,
        has: (endpoint) => this.states.get(endpoint.address) === endpoint,
        setExcluded: (endpoint, exclusion, on) => this.setExcluded(endpoint, exclusion, on),
        connectTimeoutMs: () => this.current.forwarder.connectTimeoutMs,
      },
      { clock: deps.clock, random: deps.random, decisions: deps.decisions, probe: deps.connectProbe },
    );
    this.commit(change);
    this.outliers.configure(change.settings.outlierDetection);
  }

  get settings(): UpstreamSettings {
    return this.current;
  }

  get config(): UpstreamConfig {
    return this.current.config;
  }

  get wireProtocol(): WireProtocol {
    return this.current.wireProtocol;
  }

  get timeoutMs(): number {
    return this.current.timeoutMs;
  }

  /** @internal for prepareUpstream */
  get snapshotNow(): PickerSnapshot {
    return this.snapshot;
  }

  /** The state kept for `address` while it is among the endpoints. */
  endpointState(address: string): EndpointState | undefined {
    return this.states.get(address);
  }

  /** Every endpoint's state, eligible or not. */
  endpointStates(): Iterable<EndpointState> {
    return this.states.values();
  }

  healthOf(address: string): EndpointHealth | undefined {
    return this.states.get(address)?.endpoint.health;
  }

  /** Never throws; allocates nothing. */
  pick(request: ProxiedRequest): PickResult {
    const snapshot = this.snapshot;
    if (snapshot.set.endpoints.length === 0) return this.closed ? UPSTREAM_REMOVED : QUEUE;
    this.pickRequest.hashKey = this.current.hashKeyOf(request);
    const endpoint = snapshot.picker.pick(this.pickRequest);
    return (endpoint && snapshot.picks.get(endpoint)) ?? this.noEligibleEndpoint();
  }

  /** Breakers keep calls off the network with an answer of their own (a fallback answers it). */
  private noEligibleEndpoint(): PickResult {
    for (const state of this.states.values()) if (state.exclusions.has('breaker_open') && state.endpoint.health !== 'unhealthy') return ENDPOINT_BREAKERS_OPEN;
    return NO_ELIGIBLE_ENDPOINT;
  }

  /** Queues a call until the next snapshot; false when policy.limits.maxPending calls wait already. */
  wait(waiter: PendingPick): boolean {
    if (this.waiting.size >= this.current.maxPending) {
      this.overflowed('maxPending');
      return false;
    }
    this.waiting.add(waiter);
    return true;
  }

  /** The call gave up (its deadline, its client gone): it is not retried. */
  stopWaiting(waiter: PendingPick): void {
    this.waiting.delete(waiter);
    this.retrying?.delete(waiter);
  }

  /**
   * An attempt went out to `endpoint`: its load in the current picker (whichever snapshot it
   * ends under, the count is the address's). Pair with observe(). The endpoint's metrics are
   * the endpoint step's to record, since it knows what an attempt without an answer stands for.
   */
  attemptStarted(endpoint: EndpointState): void {
    this.inFlight++;
    this.snapshot.picker.onStart(endpoint.endpoint);
  }

  /** How an attempt to `endpoint` ended: releases its load, and feeds latency unless the outcome has none. */
  observe(endpoint: EndpointState, outcome: Outcome): void {
    this.inFlight--;
    this.snapshot.picker.onEnd(endpoint.endpoint, outcome.latencyMs, outcome.failed);
    this.reachability.observe(endpoint, outcome);
    const outlierDetection = this.current.outlierDetection;
    if (outlierDetection !== undefined) this.outliers.observe(endpoint, outcome, outlierDetection);
    if (this.current.tracksLatency && outcome.latencyMs !== undefined && !outcome.failed) this.latency.record(outcome.latencyMs);
    const upstreamBreaker = this.breakers.upstream;
    if (upstreamBreaker !== undefined) {
      endpoint.breaker?.record(outcome, endpoint.address);
      upstreamBreaker.record(outcome, endpoint.address);
    }
  }

  /** A call was refused at once for an upstream-wide limit: counted, and published as a decision at most once a second. */
  overflowed(limit: 'maxConcurrent' | 'maxPending'): void {
    this.metrics.overflow(limit);
    this.overflows.hit(this.current.overflowDetail[limit], { limit });
  }

  /** Endpoints in the current snapshot, eligible or not. */
  get endpointCount(): number {
    return this.snapshot.set.endpoints.length;
  }

  /**
   * Publishes a new endpoint list (discovery's entry point). Endpoints are identified by
   * address: one that stays keeps its state. Throws BalancerConfigError, changing nothing,
   * when no picker can serve these endpoints.
   */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.commit(buildChange(this.current, endpoints, this.snapshot, this.deps, this.excluded));
  }

  /** Whether the agent keeps calls off `endpoint` (exclusion.ts); what pickers are built with. */
  readonly excluded: ExclusionCheck = (endpoint) => this.states.get(endpoint.address)?.exclusions.level ?? 'none';

  /**
   * A breaker opened or closed, an ejection began or ended: when that changes whether the
   * endpoint can be picked, a new picker is published over the same endpoints.
   */
  setExcluded(endpoint: EndpointState, exclusion: Exclusion, on: boolean): void {
    if (!endpoint.exclusions.set(exclusion, on) || this.states.get(endpoint.address) !== endpoint) return;
    this.setEndpoints(this.snapshot.set.endpoints);
  }

  /** A health change replaces the endpoint's value in a new snapshot; its state stays. */
  setHealth(address: string, health: EndpointHealth): void {
    const state = this.states.get(address);
    if (state === undefined || state.endpoint.health === health) return;
    this.setEndpoints(this.snapshot.set.endpoints.map((e) => (e.address === address ? { ...e, health } : e)));
  }

  /** Puts a prepared change in force. Cannot fail. */
  commit(change: UpstreamChange): void {
    const settingsChanged = change.settings !== this.current;
    this.current = change.settings;
    const addresses = new Set(change.set.endpoints.map((e) => e.address));
    for (const [address, state] of this.states) {
      if (addresses.has(address)) continue;
      this.states.delete(address);
      this.breakers.remove(state);
      this.reachability.forget(state);
      state.lease.release();
      this.deps.metrics.removeEndpoint(this.name, address);
    }
    for (const endpoint of change.set.endpoints) {
      const state = this.states.get(endpoint.address);
      if (state === undefined) {
        this.states.set(endpoint.address, new EndpointState(endpoint, this.deps.metrics.bindEndpoint(this.name, endpoint.address), this.lease(endpoint)));
        continue;
      }
      state.endpoint = endpoint;
      if (settingsChanged) {
        // The new lease first: when the connections' key is unchanged it is the same forwarder,
        // which the release then does not close.
        const previous = state.lease;
        state.lease = this.lease(endpoint);
        previous.release();
      }
    }
    const lifted = this.breakers.configure(change.settings.breaker, this.states.values());
    this.publish(change);
    // After the publish: turning detection off ends ejections, which publishes again.
    if (settingsChanged) this.outliers.configure(change.settings.outlierDetection);
    // The picker was prepared while a breaker now gone still excluded its endpoint.
    if (lifted) this.setEndpoints(this.snapshot.set.endpoints);
  }

  /** The upstream left the config: its forwarders close once their requests are done, its breakers at once. */
  close(): void {
    this.closed = true;
    this.outliers.close();
    this.reachability.close();
    this.breakers.close(this.states.values());
    for (const state of this.states.values()) state.lease.release();
    this.states.clear();
    // Calls still waiting for a first endpoint are answered now, not at their deadlines.
    this.snapshot = { ...this.snapshot, set: endpointSet([], this.snapshot.set.version + 1) };
    this.retryWaiting();
  }

  /** The view /api/v1/breakers shows; undefined without policy.circuitBreaker. */
  describeBreakers(): UpstreamBreakersView | undefined {
    return this.breakers.describe(this.states.values());
  }

  /** An operator's override of the breaker of the endpoint at `address`. */
  forceBreaker(address: string, override: BreakerOverride): 'forced' | 'no_endpoint' | 'no_breaker' {
    const state = this.states.get(address);
    if (state === undefined) return 'no_endpoint';
    return this.breakers.force(state, override) ? 'forced' : 'no_breaker';
  }

  /** The view /api/v1/upstreams shows. */
  describe(): UpstreamView {
    const { set, picker } = this.snapshot;
    const state = picker.describe();
    const config = this.current.config;
    const now = this.deps.clock.now();
    return {
      name: this.name,
      protocol: config.protocol,
      listen: config.listen?.text ?? null,
      algorithm: config.policy.lb.algorithm,
      panic: this.panic,
      timeoutMs: this.current.timeoutMs,
      endpoints: set.endpoints.map((e) => ({
        address: e.address,
        weight: e.weight,
        zone: e.zone ?? null,
        backup: e.backup,
        health: e.health,
        excluded: this.states.get(e.address)?.exclusions.list() ?? [],
        outlier: this.outlierView(e.address, now),
        picker: state.endpoints.find((s) => s.address === e.address) ?? null,
      })),
    };
  }

  /** What outlier detection holds against an endpoint, for the admin API. */
  private outlierView(address: string, now: number): { ejections: number; ejectionLeftMs: number | null } {
    const record = this.states.get(address)?.outlier;
    const until = record?.ejectedUntil;
    return { ejections: record?.ejections ?? 0, ejectionLeftMs: until === undefined ? null : Math.max(0, Math.round(until - now)) };
  }

  private lease(endpoint: Endpoint): EndpointState['lease'] {
    const target: ForwarderTarget = { transport: this.current.transport, host: endpoint.host, port: endpoint.port, connections: this.current.config.policy.connections };
    return this.deps.forwarders.lease(target, this.current.forwarder);
  }

  private publish(change: UpstreamChange): void {
    const picks = new Map<Endpoint, PickedEndpoint>();
    const counts = { healthy: 0, unhealthy: 0, unknown: 0 };
    let ejected = 0;
    for (const endpoint of change.set.endpoints) {
      const state = this.states.get(endpoint.address)!;
      picks.set(endpoint, state.picked);
      counts[endpoint.health] += 1;
      if (state.exclusions.has('ejected')) ejected++;
    }
    this.snapshot = { set: change.set, picker: change.picker, picks };
    this.deps.metrics.setEndpointCounts(this.name, counts);
    this.metrics.ejectedEndpoints = ejected;
    this.notePanic(change);
    this.retryWaiting();
  }

  /** A 'panic' decision when the upstream enters or leaves panic. */
  private notePanic({ eligibility: e, settings }: UpstreamChange): void {
    if (e.panic === this.panic) return;
    this.panic = e.panic;
    const share = e.primaries === 0 ? 0 : Math.round((100 * e.eligiblePrimaries) / e.primaries);
    const counts = `${e.eligiblePrimaries} of ${e.primaries} primaries eligible (${share} %`;
    this.deps.decisions.record({
      kind: 'panic',
      scope: this.name,
      reason: e.panic
        ? `entered panic: ${counts} < ${settings.panicThreshold} %), calls spread over ${e.endpoints.length} endpoints whose breaker is not open`
        : `left panic: ${counts}, threshold ${settings.panicThreshold} %)`,
      data: { panic: e.panic, eligiblePrimaries: e.eligiblePrimaries, primaries: e.primaries, threshold: settings.panicThreshold, spread: e.endpoints.length },
    });
  }

  private retryWaiting(): void {
    if (this.waiting.size === 0) return;
    const batch = this.waiting;
    // A call that must wait again joins the next batch, not this one.
    this.waiting = new Set();
    this.retrying = batch;
    try {
      for (const waiter of batch) {
        batch.delete(waiter);
        waiter.retryPick();
      }
    } finally {
      this.retrying = undefined;
    }
  }
}
