// One inbound service (services[]): the path from its listener to the local application. It
// holds one forwarder lease to services[].target, its admission (rate limit, then a fixed or
// adaptive concurrency limit), its metrics and its own settings (protocol, timeout); no
// picker, no upstream policy. It lives as long as its name is in the config: a reload that
// keeps the target keeps the lease, and so the application's warm connections, and a reload
// that keeps the limits keeps what the adaptive limit has learnt.

import type { Clock, Random } from '../../clock.ts';
import { CONNECTIONS_DEFAULTS, POLICY_DEFAULTS, REPLAY_BUFFER_LIMIT } from '../../config/defaults.ts';
import type { ServiceConfig, ServiceLimitsConfig } from '../../config/types.ts';
import type { Endpoint } from '../../balancer/endpoint-set.ts';
import type { DecisionLog } from '../../observability/decisions.ts';
import type { MeshletMetrics, UpstreamMetrics, WireProtocol } from '../../observability/metrics.ts';
import { GradientLimit } from '../../resilience/gradient-limit.ts';
import { TokenBucket } from '../../resilience/token-bucket.ts';
import type { Dispatcher } from '../call/attempt.ts';
import type { EndpointTarget } from '../call/call-target.ts';
import { EndpointDispatcher } from '../call/endpoint-step.ts';
import type { Outcome } from '../call/outcome.ts';
import type { ForwarderSettings } from '../forward/forwarder.ts';
import type { ForwarderPool, ForwarderTarget } from '../forward/forwarder-pool.ts';
import { EndpointState } from '../upstream/endpoint-state.ts';
import type { PickedEndpoint, PickResult } from '../upstream/pick-result.ts';
import { WIRE } from '../upstream/upstream.ts';
import { FixedLimit } from './concurrency-limit.ts';
import { InboundAdmission, type AdmissionLimits, type AdmissionRefusals } from './inbound-admission.ts';

export interface InboundDependencies {
  readonly clock: Clock;
  readonly metrics: MeshletMetrics;
  readonly forwarders: ForwarderPool;
  readonly decisions: DecisionLog;
}

/** What a service's config says about calling its application, derived once per config. */
export interface InboundSettings {
  readonly config: ServiceConfig;
  readonly wireProtocol: WireProtocol;
  readonly timeoutMs: number;
  readonly replayBufferLimit: number;
  /** Nothing waits for an endpoint: the application is the one endpoint, always there. */
  readonly overflowDetail: { readonly maxPending: string };
  readonly target: ForwarderTarget;
  readonly forwarder: ForwarderSettings;
}

/** A change prepared for a service; `limits` undefined: services[].limits unchanged, the running ones stay. */
export interface InboundChange {
  readonly settings: InboundSettings;
  /** A part whose config is unchanged is the running one: the adaptive limit keeps what it learnt, the bucket its tokens. */
  readonly limits: AdmissionLimits | undefined;
}

/** The name its metrics and error text carry, as they did when services were upstreams. */
export function inboundName(service: string): string {
  return `inbound:${service}`;
}

/**
 * The change that makes `current` (undefined for a service not running yet) serve `config`.
 * Builds limits only when they changed; opens nothing.
 */
export function prepareInbound(config: ServiceConfig, clock: Clock, random: Random, current?: InboundService): InboundChange {
  const settings: InboundSettings = {
    config,
    wireProtocol: WIRE[config.protocol],
    timeoutMs: config.timeout,
    replayBufferLimit: REPLAY_BUFFER_LIMIT,
    overflowDetail: { maxPending: 'an inbound service never waits for an endpoint' },
    target: { transport: config.protocol === 'http' ? 'h1' : 'h2', host: config.target.host, port: config.target.port, connections: CONNECTIONS_DEFAULTS },
    forwarder: { connectTimeoutMs: POLICY_DEFAULTS.connectTimeout },
  };
  if (current === undefined) return { settings, limits: admissionLimits(config.limits, clock, random) };
  const was = current.config.limits;
  const now = config.limits;
  const sameRate = same(was.rateLimit, now.rateLimit);
  const sameConcurrency = was.maxConcurrent === now.maxConcurrent && same(was.adaptive, now.adaptive);
  if (sameRate && sameConcurrency) return { settings, limits: undefined };
  const built = admissionLimits(now, clock, random);
  const running = current.admissionLimits;
  return {
    settings,
    limits: {
      ...(sameConcurrency ? { concurrency: running.concurrency, concurrencyText: running.concurrencyText } : { concurrency: built.concurrency, concurrencyText: built.concurrencyText }),
      ...(sameRate ? { rate: running.rate, rateText: running.rateText } : { rate: built.rate, rateText: built.rateText }),
    },
  };
}

function same(a: object | undefined, b: object | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function admissionLimits(limits: ServiceLimitsConfig, clock: Clock, random: Random): AdmissionLimits {
  const { adaptive, rateLimit, maxConcurrent } = limits;
  const rate = rateLimit ? new TokenBucket(clock, rateLimit.requestsPerSecond, rateLimit.burst) : undefined;
  const rateText = rateLimit ? `services[].limits.rateLimit (${rateLimit.requestsPerSecond} per second, burst ${rateLimit.burst})` : '';
  if (!adaptive) return { concurrency: new FixedLimit(maxConcurrent), concurrencyText: `services[].limits.maxConcurrent (${maxConcurrent})`, rate, rateText };
  // maxConcurrent stays the hard cap: the adaptive limit moves below it.
  const maxLimit = Math.min(adaptive.maxLimit, maxConcurrent);
  const minLimit = Math.min(adaptive.minLimit, maxLimit);
  const concurrency = new GradientLimit(clock, random, {
    minLimit,
    maxLimit,
    initialLimit: Math.min(Math.max(adaptive.initialLimit, minLimit), maxLimit),
    tolerance: adaptive.tolerance,
    smoothing: adaptive.smoothing,
    sampleWindowMs: adaptive.sampleWindow,
    minRttIntervalMs: adaptive.minRttInterval,
  });
  return { concurrency, concurrencyText: 'the adaptive concurrency limit (services[].limits.adaptive)', rate, rateText };
}

function applicationEndpoint(config: ServiceConfig): Endpoint {
  const { target } = config;
  return { address: target.text, host: target.host, port: target.port, weight: 1, backup: false, metadata: {}, health: 'unknown' };
}

function sameTarget(a: ForwarderTarget, b: ForwarderTarget): boolean {
  return a.transport === b.transport && a.host === b.host && a.port === b.port;
}

export class InboundService implements EndpointTarget {
  readonly name: string;
  readonly direction = 'inbound';
  readonly metrics: UpstreamMetrics;
  /** The steps its listener's calls run through: admission, then the application. */
  readonly dispatcher: Dispatcher<InboundService>;
  private readonly admission: InboundAdmission<InboundService>;
  private current: InboundSettings;
  private application: EndpointState;
  private picked: PickedEndpoint;
  /** services[].name, the scope of its decisions and the label of its concurrency limit. */
  private readonly service: string;
  private readonly scope: string;

  constructor(
    change: InboundChange,
    /** The listener's name ("service:<name>"), which its refusal counts carry. */
    listener: string,
    private readonly deps: InboundDependencies,
  ) {
    const { config } = change.settings;
    this.service = config.name;
    this.scope = `service:${config.name}`;
    this.name = inboundName(config.name);
    this.metrics = deps.metrics.bindUpstream(this.name);
    this.current = change.settings;
    this.application = this.stateFor(change.settings);
    this.picked = this.application.picked;
    const shed = deps.decisions.counter('shed', this.scope);
    const limited = deps.decisions.counter('rate_limited', this.scope);
    // Reasons are read only when an event is published (at most one a second), from the limits in force then.
    const shedReason = (): string => {
      const { concurrency, concurrencyText } = this.admission.limits;
      return `shed: ${concurrency.inFlight} calls in flight to ${this.application.address}, the most ${concurrencyText} allows now (${concurrency.limit})`;
    };
    const limitedReason = (): string => {
      const { rate, rateText } = this.admission.limits;
      return `rate limited: over ${rateText}; next call admitted in ${Math.ceil(rate?.retryAfterMs() ?? 0)} ms`;
    };
    const refusals: AdmissionRefusals = {
      shed: () => {
        deps.metrics.requestRefused(listener, 'concurrency_limit');
        shed.hit(shedReason);
      },
      rateLimited: () => {
        this.metrics.rateLimited();
        limited.hit(limitedReason);
      },
    };
    // prepareInbound with no running service always builds the limits.
    this.admission = new InboundAdmission(new EndpointDispatcher<InboundService>(deps.clock), this.bound(change.limits!), refusals);
    this.dispatcher = this.admission;
    deps.metrics.watchConcurrencyLimit(this.service, () => this.admission.limits.concurrency.limit);
  }

  get config(): ServiceConfig {
    return this.current.config;
  }

  get settings(): InboundSettings {
    return this.current;
  }

  /** @internal for prepareInbound: the limits in force. */
  get admissionLimits(): AdmissionLimits {
    return this.admission.limits;
  }

  get timeoutMs(): number {
    return this.current.timeoutMs;
  }

  get wireProtocol(): WireProtocol {
    return this.current.wireProtocol;
  }

  pick(): PickResult {
    return this.picked;
  }

  wait(): boolean {
    return false;
  }

  stopWaiting(): void {
    // wait() queues nothing.
  }

  attemptStarted(): void {
    // No picker keeps load: the admission counts what is in flight.
  }

  /** Feeds the adaptive limit what the application's answers took; a failure without an answer (a reset, a refused connect) shows nothing of its queue. */
  observe(endpoint: EndpointState, outcome: Outcome): void {
    if (outcome.reason === undefined || outcome.reason === 'timeout') this.admission.limits.concurrency.sample(outcome.latencyMs);
  }

  /** Puts a prepared change in force. Cannot fail. */
  commit(change: InboundChange): void {
    const previous = this.current;
    this.current = change.settings;
    if (!sameTarget(previous.target, change.settings.target)) {
      const old = this.application;
      this.deps.metrics.removeEndpoint(this.name, old.address);
      this.application = this.stateFor(change.settings);
      this.picked = this.application.picked;
      old.lease.release();
    }
    if (change.limits) this.admission.configure(this.bound(change.limits));
  }

  /** The service left the config: its forwarder closes once its calls are done. */
  close(): void {
    this.application.lease.release();
    this.deps.metrics.removeConcurrencyLimit(this.service);
  }

  /** Its entry in /api/v1/upstreams. */
  describe(): unknown {
    const { config } = this.current;
    const { concurrency, rate } = this.admission.limits;
    return {
      name: this.name,
      direction: 'inbound',
      protocol: config.protocol,
      listen: config.listen.text,
      target: config.target.text,
      timeoutMs: this.current.timeoutMs,
      admission: {
        concurrencyLimit: concurrency.limit,
        adaptive: concurrency instanceof GradientLimit ? { minRttMs: concurrency.minRttMs } : null,
        inFlight: concurrency.inFlight,
        rateLimit: config.limits.rateLimit ?? null,
        rateLimitedNow: rate ? rate.retryAfterMs() > 0 : false,
      },
      endpoints: [{ address: this.application.address, health: this.application.endpoint.health }],
    };
  }

  /** Limits built in prepare learn of their moves through the decision log once they are this service's. */
  private bound(limits: AdmissionLimits): AdmissionLimits {
    const { concurrency } = limits;
    if (concurrency instanceof GradientLimit) concurrency.onChange = (change) => this.deps.decisions.record({ kind: 'concurrency_limit_changed', scope: this.scope, reason: change.reason, data: { from: change.from, to: change.to, minRttMs: concurrency.minRttMs } });
    return limits;
  }

  private stateFor(settings: InboundSettings): EndpointState {
    const endpoint = applicationEndpoint(settings.config);
    return new EndpointState(endpoint, this.deps.metrics.bindEndpoint(this.name, endpoint.address), this.deps.forwarders.lease(settings.target, settings.forwarder));
  }
}
