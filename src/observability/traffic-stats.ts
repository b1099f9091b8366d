// Recent traffic per upstream and per endpoint (request rate, error percentage, p50 and p99
// latency, retries, fallbacks and ejections over the last few seconds), for the dashboard,
// /api/v1/stats and the control-plane report. Nothing here runs on the request path: a timer
// copies the cumulative counters and histogram cells the request path already keeps, once a
// second, into a ring of samples spanning the window; a read subtracts the oldest sample in the
// window from the counters as they are now. Memory is the ring: (window / interval + 1) copies
// of each series' counters.

import type { Clock, TimerHandle } from '../clock.ts';
import { DURATION_BUCKETS, type EndpointMetrics, type UpstreamMetrics } from './endpoint-metrics.ts';

/** What MeshletMetrics.trafficHandles() yields: one upstream's handle and its endpoints'. */
export interface TrafficHandles {
  readonly upstream: UpstreamMetrics;
  readonly endpoints: Iterable<EndpointMetrics>;
}

/** Attempts over the window. Latencies are null when no attempt finished in it. */
export interface TrafficFigures {
  readonly requestsPerSecond: number;
  /** Failed attempts (5xx, a failing grpc-status, a transport failure), percent of attempts; 0 without attempts. */
  readonly errorPercent: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface EndpointTraffic extends TrafficFigures {
  readonly address: string;
}

export interface UpstreamTraffic extends TrafficFigures {
  /** The upstream's name, or "inbound:<service>" for an inbound service. */
  readonly name: string;
  /** Attempts sent again under policy.retry in the window. */
  readonly retries: number;
  /** Calls answered by policy.fallback in the window. */
  readonly fallbacks: number;
  /** Endpoints outlier detection ejected in the window. */
  readonly ejections: number;
  /** Calls the agent answered with an error of its own in the window, by code (MESHLET_CIRCUIT_OPEN, ...). */
  readonly errors: Readonly<Record<string, number>>;
  readonly endpoints: readonly EndpointTraffic[];
}

export interface TrafficView {
  /** How far back the figures reach now: the window, or less while the agent is younger than it. */
  readonly windowMs: number;
  readonly upstreams: readonly UpstreamTraffic[];
}

export interface TrafficStatsOptions {
  /** Default 10 s. */
  readonly windowMs?: number;
  /** Default 1 s. */
  readonly sampleEveryMs?: number;
}

const BUCKET_SLOTS = DURATION_BUCKETS.length + 1;

interface EndpointSample {
  readonly attempts: number;
  readonly failures: number;
  /** Per DURATION_BUCKETS slot, not cumulative; the last slot is +Inf. */
  readonly buckets: Float64Array;
}

interface UpstreamSample {
  readonly retries: number;
  readonly fallbacks: number;
  readonly ejections: number;
  readonly errors: ReadonlyMap<string, number>;
}

/** Every series' counters at one moment, keyed by the handle (a re-added endpoint is a new series). */
interface Sample {
  readonly at: number;
  readonly upstreams: Map<UpstreamMetrics, UpstreamSample>;
  readonly endpoints: Map<EndpointMetrics, EndpointSample>;
}

const NO_ENDPOINT: EndpointSample = { attempts: 0, failures: 0, buckets: new Float64Array(BUCKET_SLOTS) };
const NO_UPSTREAM: UpstreamSample = { retries: 0, fallbacks: 0, ejections: 0, errors: new Map() };

export class TrafficStats {
  private readonly windowMs: number;
  private readonly sampleEveryMs: number;
  /** Oldest first, spanning the window: at most window / interval + 1 entries. */
  private readonly samples: Sample[] = [];
  private timer: TimerHandle | undefined;

  constructor(
    private readonly handles: () => Iterable<TrafficHandles>,
    private readonly clock: Clock,
    options: TrafficStatsOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 10_000;
    this.sampleEveryMs = options.sampleEveryMs ?? 1000;
  }

  /** Takes the first sample and one per interval from now on. */
  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = this.clock.setInterval(() => this.sample(), this.sampleEveryMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The figures over the window that ends now. */
  read(): TrafficView {
    const now = this.take();
    const base = this.baseline(now.at);
    const seconds = (now.at - base.at) / 1000;
    const upstreams: UpstreamTraffic[] = [];
    for (const { upstream, endpoints } of this.handles()) {
      const total = { attempts: 0, failures: 0, buckets: new Float64Array(BUCKET_SLOTS) };
      const endpointViews: EndpointTraffic[] = [];
      for (const endpoint of endpoints) {
        const delta = endpointDelta(now.endpoints.get(endpoint) ?? NO_ENDPOINT, base.endpoints.get(endpoint) ?? NO_ENDPOINT);
        total.attempts += delta.attempts;
        total.failures += delta.failures;
        for (let b = 0; b < BUCKET_SLOTS; b++) total.buckets[b]! += delta.buckets[b]!;
        endpointViews.push({ address: endpoint.endpoint, ...figures(delta, seconds) });
      }
      const later = now.upstreams.get(upstream) ?? NO_UPSTREAM;
      const earlier = base.upstreams.get(upstream) ?? NO_UPSTREAM;
      upstreams.push({
        name: upstream.upstream,
        ...figures(total, seconds),
        retries: later.retries - earlier.retries,
        fallbacks: later.fallbacks - earlier.fallbacks,
        ejections: later.ejections - earlier.ejections,
        errors: errorsDelta(later.errors, earlier.errors),
        endpoints: endpointViews,
      });
    }
    return { windowMs: Math.round(now.at - base.at), upstreams };
  }

  private sample(): void {
    const sample = this.take();
    this.samples.push(sample);
    while (this.samples.length > 1 && this.samples[0]!.at < sample.at - this.windowMs) this.samples.shift();
  }

  /** The oldest sample inside the window; the newest one when none is (sampling stopped). */
  private baseline(now: number): Sample {
    for (const sample of this.samples) if (sample.at >= now - this.windowMs) return sample;
    return this.samples.at(-1) ?? { at: now, upstreams: new Map(), endpoints: new Map() };
  }

  private take(): Sample {
    const sample: Sample = { at: this.clock.now(), upstreams: new Map(), endpoints: new Map() };
    for (const { upstream, endpoints } of this.handles()) {
      sample.upstreams.set(upstream, { retries: upstream.retriesTotal(), fallbacks: upstream.fallbacksTotal(), ejections: upstream.ejectionsTotal(), errors: new Map(upstream.errorCounts()) });
      for (const endpoint of endpoints) {
        const buckets = new Float64Array(BUCKET_SLOTS);
        endpoint.addDurationBuckets(buckets);
        sample.endpoints.set(endpoint, { ...endpoint.attemptTotals(), buckets });
      }
    }
    return sample;
  }
}

function endpointDelta(later: EndpointSample, earlier: EndpointSample): EndpointSample {
  const buckets = new Float64Array(BUCKET_SLOTS);
  for (let b = 0; b < BUCKET_SLOTS; b++) buckets[b] = later.buckets[b]! - earlier.buckets[b]!;
  return { attempts: later.attempts - earlier.attempts, failures: later.failures - earlier.failures, buckets };
}

function errorsDelta(later: ReadonlyMap<string, number>, earlier: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [code, n] of later) {
    const delta = n - (earlier.get(code) ?? 0);
    if (delta > 0) out[code] = delta;
  }
  return out;
}

function figures(delta: EndpointSample, seconds: number): TrafficFigures {
  return {
    requestsPerSecond: seconds > 0 ? round(delta.attempts / seconds, 2) : 0,
    errorPercent: delta.attempts > 0 ? round((100 * delta.failures) / delta.attempts, 2) : 0,
    p50Ms: quantileMs(delta.buckets, 0.5),
    p99Ms: quantileMs(delta.buckets, 0.99),
  };
}

/**
 * The q-quantile of the observations in `buckets`, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile() does; the largest bound when it falls in +Inf.
 */
export function quantileMs(buckets: Float64Array, q: number): number | null {
  let count = 0;
  for (const n of buckets) count += n;
  if (count === 0) return null;
  const rank = q * count;
  let below = 0;
  for (let b = 0; b < DURATION_BUCKETS.length; b++) {
    const inBucket = buckets[b]!;
    if (below + inBucket >= rank && inBucket > 0) {
      const lower = b === 0 ? 0 : DURATION_BUCKETS[b - 1]!;
      const upper = DURATION_BUCKETS[b]!;
      return round((lower + ((upper - lower) * (rank - below)) / inBucket) * 1000, 3);
    }
    below += inBucket;
  }
  return round(DURATION_BUCKETS.at(-1)! * 1000, 3);
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
