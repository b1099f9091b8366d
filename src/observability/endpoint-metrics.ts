// The metric handles the request path holds: one EndpointMetrics per endpoint and one
// UpstreamMetrics per upstream, built when config or discovery adds them. Recording is a
// few additions into typed arrays, with no label lookup; MeshletMetrics exports the slots
// into its registry when Prometheus scrapes.
import type { Counter, Gauge } from 'prom-client';
import { GRPC_STATUS_NAMES, grpcStatusCode } from '../config/grpc-status.ts';
import { HistogramCells, type LiveSeries } from './live-histogram.ts';

export type WireProtocol = 'http1' | 'http2' | 'grpc';

export const WIRE_PROTOCOLS: readonly WireProtocol[] = ['http1', 'http2', 'grpc'];
const PROTOCOL_INDEX: Readonly<Record<WireProtocol, number>> = { http1: 0, http2: 1, grpc: 2 };

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

const GRPC_UNKNOWN = grpcStatusCode('UNKNOWN');

/** Seconds; from half a millisecond (a local hop) to the longest sensible proxy timeout. */
export const DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Index into STATUS_CLASSES. A status outside 100–599 means no valid response was produced,
 * so it counts as a server error.
 */
export function statusClassIndex(status: number): number {
  return status >= 100 && status < 600 ? ((status / 100) | 0) - 1 : 4;
}

/** Unknown codes are UNKNOWN, as gRPC clients treat them. */
function grpcStatusIndex(code: number): number {
  return code >= 0 && code < GRPC_STATUS_NAMES.length ? code | 0 : GRPC_UNKNOWN;
}

export type RequestLabel = 'upstream' | 'endpoint' | 'protocol' | 'status_class' | 'classification';

/** How the attempt's outcome was judged (outcome.ts): a gRPC UNAVAILABLE in a 200 is a failure. Linkerd's label. */
const CLASSIFICATIONS = ['success', 'failure'] as const;
export type GrpcLabel = 'upstream' | 'endpoint' | 'grpc_status';
export type DurationLabel = 'upstream' | 'endpoint' | 'protocol';

/** Attempts sent to one endpoint of one upstream. */
export class EndpointMetrics {
  private inFlight = 0;
  /** Indexed protocol × status class × classification. */
  private readonly responses = new Float64Array(WIRE_PROTOCOLS.length * STATUS_CLASSES.length * CLASSIFICATIONS.length);
  private readonly grpcResponses = new Float64Array(GRPC_STATUS_NAMES.length);
  private readonly durations: readonly HistogramCells[];

  constructor(
    readonly upstream: string,
    readonly endpoint: string,
  ) {
    this.durations = WIRE_PROTOCOLS.map(() => new HistogramCells(DURATION_BUCKETS));
  }

  /** An attempt was sent to this endpoint; pair with finished(). */
  started(): void {
    this.inFlight += 1;
  }

  /** The attempt ended with this HTTP status (and gRPC status, for gRPC) after `seconds`, judged `failed` or not. */
  finished(protocol: WireProtocol, status: number, seconds: number, grpcStatus: number | undefined, failed: boolean): void {
    this.inFlight -= 1;
    const p = PROTOCOL_INDEX[protocol];
    this.responses[(p * STATUS_CLASSES.length + statusClassIndex(status)) * CLASSIFICATIONS.length + (failed ? 1 : 0)]! += 1;
    if (grpcStatus !== undefined) this.grpcResponses[grpcStatusIndex(grpcStatus)]! += 1;
    this.durations[p]!.observe(seconds >= 0 ? seconds : 0);
  }

  exportResponses(counter: Counter<RequestLabel>): void {
    for (let p = 0; p < WIRE_PROTOCOLS.length; p++) {
      for (let c = 0; c < STATUS_CLASSES.length; c++) {
        for (let k = 0; k < CLASSIFICATIONS.length; k++) {
          const n = this.responses[(p * STATUS_CLASSES.length + c) * CLASSIFICATIONS.length + k]!;
          if (n === 0) continue;
          counter.inc({ upstream: this.upstream, endpoint: this.endpoint, protocol: WIRE_PROTOCOLS[p]!, status_class: STATUS_CLASSES[c]!, classification: CLASSIFICATIONS[k]! }, n);
        }
      }
    }
  }

  exportGrpcResponses(counter: Counter<GrpcLabel>): void {
    for (let code = 0; code < GRPC_STATUS_NAMES.length; code++) {
      const n = this.grpcResponses[code]!;
      if (n === 0) continue;
      counter.inc({ upstream: this.upstream, endpoint: this.endpoint, grpc_status: GRPC_STATUS_NAMES[code]! }, n);
    }
  }

  exportInFlight(gauge: Gauge<'upstream' | 'endpoint'>): void {
    gauge.set({ upstream: this.upstream, endpoint: this.endpoint }, this.inFlight);
  }

  /** Attempts finished so far and how many of them failed, over every protocol. */
  attemptTotals(): { readonly attempts: number; readonly failures: number } {
    let attempts = 0;
    let failures = 0;
    for (let i = 0; i < this.responses.length; i++) {
      const n = this.responses[i]!;
      attempts += n;
      if (i % CLASSIFICATIONS.length === 1) failures += n;
    }
    return { attempts, failures };
  }

  /** Adds this endpoint's latency observations per DURATION_BUCKETS slot (the last is +Inf) into `into`, over every protocol. */
  addDurationBuckets(into: Float64Array): void {
    for (const cells of this.durations) for (let b = 0; b < into.length; b++) into[b]! += cells.inBucket(b);
  }

  *durationSeries(): Generator<LiveSeries<DurationLabel>> {
    for (let p = 0; p < WIRE_PROTOCOLS.length; p++) {
      const cells = this.durations[p]!;
      if (cells.count === 0) continue;
      yield { labels: { upstream: this.upstream, endpoint: this.endpoint, protocol: WIRE_PROTOCOLS[p]! }, cells };
    }
  }
}

/** Error codes are a fixed set in the code base; the cap only guards against a caller bug. */
const MAX_ERROR_CODES = 64;
export const OVERFLOW_ERROR_CODE = 'MESHLET_OTHER';

/** Why outlier detection ejected an endpoint. */
export const EJECTION_REASONS = ['consecutive', 'success_rate'] as const;
export type EjectionReason = (typeof EJECTION_REASONS)[number];

/** meshlet_breaker_state's values. */
export const BREAKER_STATE_VALUES: Readonly<Record<string, number>> = { closed: 0, half_open: 1, open: 2 };

/** Requests the agent holds for one upstream, and the errors it met on their way. */
export class UpstreamMetrics {
  private inFlight = 0;
  private readonly ejections: Record<EjectionReason, number> = { consecutive: 0, success_rate: 0 };
  /** Endpoints outlier detection holds ejected now. */
  ejectedEndpoints = 0;
  private readonly errors = new Map<string, number>();
  /** Keyed by attempt reason: a closed set, so no cap. */
  private readonly transparentRetries = new Map<string, number>();
  /** Fallbacks served, by kind and by the error code they stood in for (a closed set). */
  private readonly fallbacks = { static: new Map<string, number>(), stale: new Map<string, number>() };
  private rateLimitedCalls = 0;
  private readonly overflows = new Map<string, number>();
  /** Breaker → 0 closed, 1 half-open, 2 open; "" is the upstream's own breaker. */
  private readonly breakerStates = new Map<string, number>();
  private readonly breakerTransitions = new Map<string, number>();

  constructor(readonly upstream: string) {}

  /** A client request for this upstream arrived; retries within it do not count again. */
  requestStarted(): void {
    this.inFlight += 1;
  }

  requestFinished(): void {
    this.inFlight -= 1;
  }

  /** `code` is a stable error code such as MESHLET_CONNECT_FAILED. */
  error(code: string): void {
    const seen = this.errors.get(code);
    if (seen !== undefined) {
      this.errors.set(code, seen + 1);
    } else if (this.errors.size < MAX_ERROR_CODES) {
      this.errors.set(code, 1);
    } else {
      this.errors.set(OVERFLOW_ERROR_CODE, (this.errors.get(OVERFLOW_ERROR_CODE) ?? 0) + 1);
    }
  }

  exportInFlight(gauge: Gauge<'upstream'>): void {
    gauge.set({ upstream: this.upstream }, this.inFlight);
  }

  /** A request was sent again, unseen by its client, because its attempt never reached the application (`reason`). */
  transparentRetry(reason: string): void {
    this.transparentRetries.set(reason, (this.transparentRetries.get(reason) ?? 0) + 1);
  }

  exportTransparentRetries(counter: Counter<'upstream' | 'reason'>): void {
    for (const [reason, n] of this.transparentRetries) counter.inc({ upstream: this.upstream, reason }, n);
  }

  ejection(reason: EjectionReason): void {
    this.ejections[reason] += 1;
  }

  ejectionsTotal(): number {
    let n = 0;
    for (const reason of EJECTION_REASONS) n += this.ejections[reason];
    return n;
  }

  exportEjections(counter: Counter<'upstream' | 'reason'>): void {
    for (const reason of EJECTION_REASONS) counter.inc({ upstream: this.upstream, reason }, this.ejections[reason]);
  }

  exportEjected(gauge: Gauge<'upstream'>): void {
    gauge.set({ upstream: this.upstream }, this.ejectedEndpoints);
  }

  /** A fallback of `kind` answered a call in place of the error `cause`. */
  fallbackServed(kind: 'static' | 'stale', cause: string): void {
    const byCause = this.fallbacks[kind];
    byCause.set(cause, (byCause.get(cause) ?? 0) + 1);
  }

  fallbacksTotal(): number {
    let n = 0;
    for (const byCause of [this.fallbacks.static, this.fallbacks.stale]) for (const count of byCause.values()) n += count;
    return n;
  }

  exportFallbacks(counter: Counter<'upstream' | 'kind' | 'cause'>): void {
    for (const kind of ['static', 'stale'] as const) {
      for (const [cause, n] of this.fallbacks[kind]) counter.inc({ upstream: this.upstream, kind, cause }, n);
    }
  }

  /** A call was turned away by policy.rateLimit. */
  rateLimited(): void {
    this.rateLimitedCalls += 1;
  }

  exportRateLimited(counter: Counter<'upstream'>): void {
    // As the other per-reason counters: an upstream that never limited a call has no series.
    if (this.rateLimitedCalls > 0) counter.inc({ upstream: this.upstream }, this.rateLimitedCalls);
  }

  // Retries and hedges (src/resilience/): on the failure path, so a Map by reason is cheap enough.
  /** Keyed by what triggered it: an attempt reason, http_<status> or grpc_<code name>; bounded by the retry policy. */
  private readonly retries = new Map<string, number>();
  private hedges = 0;
  /** Keyed by the kind of extra attempt refused: retry or hedge. */
  private readonly budgetRefusals = new Map<string, number>();
  private retryOverflows = 0;

  retried(reason: string): void {
    this.retries.set(reason, (this.retries.get(reason) ?? 0) + 1);
  }

  hedged(): void {
    this.hedges += 1;
  }

  /** An extra attempt of `kind` was not sent: the upstream's retry budget was spent. */
  budgetExhausted(kind: string): void {
    this.budgetRefusals.set(kind, (this.budgetRefusals.get(kind) ?? 0) + 1);
  }

  /** A retry was not sent: policy.limits.maxRetries retries were in flight already. */
  retryOverflow(): void {
    this.retryOverflows += 1;
  }

  /** Attempts sent again under policy.retry, whatever triggered them. */
  retriesTotal(): number {
    let n = 0;
    for (const count of this.retries.values()) n += count;
    return n;
  }

  exportRetries(retries: Counter<'upstream' | 'reason'>, hedges: Counter<'upstream'>, budget: Counter<'upstream' | 'kind'>, overflows: Counter<'upstream'>): void {
    const upstream = this.upstream;
    for (const [reason, n] of this.retries) retries.inc({ upstream, reason }, n);
    if (this.hedges > 0) hedges.inc({ upstream }, this.hedges);
    for (const [kind, n] of this.budgetRefusals) budget.inc({ upstream, kind }, n);
    if (this.retryOverflows > 0) overflows.inc({ upstream }, this.retryOverflows);
  }

  /** A call refused at once because an upstream-wide limit (`limit`: maxConcurrent, maxPending) was reached. */
  overflow(limit: string): void {
    this.overflows.set(limit, (this.overflows.get(limit) ?? 0) + 1);
  }

  exportOverflows(counter: Counter<'upstream' | 'limit'>): void {
    for (const [limit, n] of this.overflows) counter.inc({ upstream: this.upstream, limit }, n);
  }

  /** A circuit breaker (an endpoint's, or the upstream's for endpoint "") changed state. */
  breakerTransition(endpoint: string, from: string, to: string): void {
    const key = `${endpoint}\n${from}\n${to}`;
    this.breakerTransitions.set(key, (this.breakerTransitions.get(key) ?? 0) + 1);
    this.breakerStates.set(endpoint, BREAKER_STATE_VALUES[to] ?? 0);
  }

  /** The breaker exists and is closed (a new endpoint), or is gone (undefined). */
  breakerPresent(endpoint: string, present: boolean): void {
    if (present) this.breakerStates.set(endpoint, this.breakerStates.get(endpoint) ?? 0);
    else this.breakerStates.delete(endpoint);
  }

  exportBreakerStates(gauge: Gauge<'upstream' | 'endpoint'>): void {
    for (const [endpoint, value] of this.breakerStates) gauge.set({ upstream: this.upstream, endpoint }, value);
  }

  exportBreakerTransitions(counter: Counter<'upstream' | 'endpoint' | 'from' | 'to'>): void {
    for (const [key, n] of this.breakerTransitions) {
      const [endpoint = '', from = '', to = ''] = key.split('\n');
      counter.inc({ upstream: this.upstream, endpoint, from, to }, n);
    }
  }

  /** Errors so far by stable error code; the caller must not change it. */
  errorCounts(): ReadonlyMap<string, number> {
    return this.errors;
  }

  exportErrors(counter: Counter<'upstream' | 'code'>): void {
    for (const [code, n] of this.errors) counter.inc({ upstream: this.upstream, code }, n);
  }
}
