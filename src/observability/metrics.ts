// The agent's Prometheus metrics, one registry per agent process. Request-path metrics are
// recorded into pre-built EndpointMetrics / UpstreamMetrics handles and read into the
// registry by collect() at scrape time; cold-path metrics (reloads, malformed requests,
// endpoint counts) use prom-client directly. Removing an upstream or endpoint drops its
// handles, so its series disappear at the next scrape and reloads never grow the registry.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import {
  DURATION_BUCKETS,
  EndpointMetrics,
  UpstreamMetrics,
  type DurationLabel,
  type GrpcLabel,
  type RequestLabel,
} from './endpoint-metrics.ts';
import { GossipPromMetrics } from './gossip-metrics.ts';
import { LiveHistogram, type LiveSeries } from './live-histogram.ts';
import type { TrafficHandles } from './traffic-stats.ts';

export { EndpointMetrics, UpstreamMetrics, type EjectionReason, type WireProtocol } from './endpoint-metrics.ts';

export type EndpointHealth = 'healthy' | 'unhealthy' | 'unknown';
export type EndpointCounts = Readonly<Record<EndpointHealth, number>>;
export type ConfigReloadResult = 'applied' | 'rejected';

/**
 * The places node:http, node:http2 and undici call into the agent for a connection or a
 * request; an exception that escapes the agent's handling there is counted under its site.
 */
export const INTERNAL_ERROR_SITES = [
  'sniff', 'tunnel_connect', 'client_error', 'http1_request', 'http2_stream', 'proxy_call',
  'http1_forwarder', 'http2_forwarder',
] as const;
export type InternalErrorSite = (typeof INTERNAL_ERROR_SITES)[number];

/** A counter with its labels bound once, so recording is one addition. */
export interface BoundCounter {
  inc(): void;
}

const ENDPOINT_HEALTHS: readonly EndpointHealth[] = ['healthy', 'unhealthy', 'unknown'];

interface UpstreamEntry {
  readonly metrics: UpstreamMetrics;
  readonly endpoints: Map<string, EndpointMetrics>;
}

export class MeshletMetrics {
  private readonly register = new Registry();
  private readonly upstreams = new Map<string, UpstreamEntry>();
  private readonly endpointCounts: Gauge<'upstream' | 'health'>;
  private readonly configReloads: Counter<'result'>;
  private readonly malformed: Counter<'listener' | 'reason'>;
  /** Reasons seen per listener, so removeListener() can drop every series of one listener. */
  private readonly malformedReasons = new Map<string, Set<string>>();
  private readonly requestsRefused: Counter<'listener' | 'reason'>;
  private readonly refusalReasons = new Map<string, Set<string>>();
  private readonly connectionsRejected: Counter<'listener'>;
  private readonly connectionsClosed: Counter<'listener' | 'reason'>;
  private readonly closeReasons = new Map<string, Set<string>>();
  /** Listener → how many client connections it holds, read at scrape time. */
  private readonly openConnectionSources = new Map<string, () => number>();
  /** Inbound service → its concurrency limit now (fixed, or as the adaptive limit has it), read at scrape time. */
  private readonly concurrencyLimitSources = new Map<string, () => number>();
  /** Bound per site at construction: every site shows 0 before anything fails there. */
  readonly internalErrors: Readonly<Record<InternalErrorSite, BoundCounter>>;
  /** Membership, the sealed wire and local health checks. */
  readonly gossip: GossipPromMetrics;

  constructor() {
    const register = this.register;
    // No prefix: the stock Node.js dashboards and alerts read process_* and nodejs_* as prom-client names them.
    collectDefaultMetrics({ register });
    this.gossip = new GossipPromMetrics(register);

    const requests: Counter<RequestLabel> = new Counter({
      name: 'meshlet_requests_total',
      help: 'Attempts sent to an endpoint, by protocol, response status class and classification (success or failure: 5xx, a failing grpc-status such as UNAVAILABLE, a transport failure).',
      labelNames: ['upstream', 'endpoint', 'protocol', 'status_class', 'classification'],
      registers: [register],
      collect: () => {
        requests.reset();
        for (const endpoint of this.allEndpoints()) endpoint.exportResponses(requests);
      },
    });
    const grpcResponses: Counter<GrpcLabel> = new Counter({
      name: 'meshlet_grpc_responses_total',
      help: 'gRPC attempts sent to an endpoint, by grpc-status code name.',
      labelNames: ['upstream', 'endpoint', 'grpc_status'],
      registers: [register],
      collect: () => {
        grpcResponses.reset();
        for (const endpoint of this.allEndpoints()) endpoint.exportGrpcResponses(grpcResponses);
      },
    });
    new LiveHistogram<DurationLabel>({
      name: 'meshlet_request_duration_seconds',
      help: 'Time from sending an attempt to an endpoint until its response ended.',
      labelNames: ['upstream', 'endpoint', 'protocol'],
      buckets: DURATION_BUCKETS,
      register,
      series: () => this.durationSeries(),
    });
    const inFlight: Gauge<'upstream'> = new Gauge({
      name: 'meshlet_requests_in_flight',
      help: 'Client requests the agent holds for an upstream, retries included once.',
      labelNames: ['upstream'],
      registers: [register],
      collect: () => {
        inFlight.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportInFlight(inFlight);
      },
    });
    const endpointInFlight: Gauge<'upstream' | 'endpoint'> = new Gauge({
      name: 'meshlet_endpoint_requests_in_flight',
      help: 'Attempts currently outstanding at an endpoint.',
      labelNames: ['upstream', 'endpoint'],
      registers: [register],
      collect: () => {
        endpointInFlight.reset();
        for (const endpoint of this.allEndpoints()) endpoint.exportInFlight(endpointInFlight);
      },
    });
    const upstreamErrors: Counter<'upstream' | 'code'> = new Counter({
      name: 'meshlet_upstream_errors_total',
      help: 'Errors met while proxying to an upstream, by stable error code.',
      labelNames: ['upstream', 'code'],
      registers: [register],
      collect: () => {
        upstreamErrors.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportErrors(upstreamErrors);
      },
    });
    const transparentRetries: Counter<'upstream' | 'reason'> = new Counter({
      name: 'meshlet_transparent_retries_total',
      help: 'Requests sent once more to another endpoint, whatever the retry policy, because their attempt never reached the application (connect failure, refused stream, GOAWAY).',
      labelNames: ['upstream', 'reason'],
      registers: [register],
      collect: () => {
        transparentRetries.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportTransparentRetries(transparentRetries);
      },
    });
    const ejectedEndpoints: Gauge<'upstream'> = new Gauge({
      name: 'meshlet_outlier_ejected_endpoints',
      help: 'Endpoints of an upstream that outlier detection holds ejected now.',
      labelNames: ['upstream'],
      registers: [register],
      collect: () => {
        ejectedEndpoints.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportEjected(ejectedEndpoints);
      },
    });
    const ejections: Counter<'upstream' | 'reason'> = new Counter({
      name: 'meshlet_outlier_ejections_total',
      help: 'Endpoints ejected by outlier detection, by reason: consecutive (failures in a row) or success_rate (well below its peers).',
      labelNames: ['upstream', 'reason'],
      registers: [register],
      collect: () => {
        ejections.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportEjections(ejections);
      },
    });
    const fallbacks: Counter<'upstream' | 'kind' | 'cause'> = new Counter({
      name: 'meshlet_fallbacks_total',
      help: 'Calls answered by policy.fallback instead of failing, by kind (static: the configured response; stale: a kept one, stale-if-error) and by the error code it stood in for.',
      labelNames: ['upstream', 'kind', 'cause'],
      registers: [register],
      collect: () => {
        fallbacks.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportFallbacks(fallbacks);
      },
    });
    const rateLimited: Counter<'upstream'> = new Counter({
      name: 'meshlet_rate_limited_total',
      help: 'Calls turned away with 429 MESHLET_RATE_LIMITED by the upstream\'s policy.rateLimit.',
      labelNames: ['upstream'],
      registers: [register],
      collect: () => {
        rateLimited.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportRateLimited(rateLimited);
      },
    });
    const retries: Counter<'upstream' | 'reason'> = new Counter({
      name: 'meshlet_retries_total',
      help: 'Attempts sent again under policy.retry, by what triggered the retry: an attempt reason (connect_failed, reset_before_headers, timeout, ...), http_<status> or grpc_<code>.',
      labelNames: ['upstream', 'reason'],
      registers: [register],
      collect: () => exportRetryFamilies(),
    });
    const hedges: Counter<'upstream'> = new Counter({
      name: 'meshlet_hedges_total',
      help: 'Hedged attempts: a further attempt sent under policy.hedge while an earlier one was still out.',
      labelNames: ['upstream'],
      registers: [register],
    });
    const budgetExhausted: Counter<'upstream' | 'kind'> = new Counter({
      name: 'meshlet_retry_budget_exhausted_total',
      help: 'Retries and hedges not sent because the upstream retry budget (policy.retry.budget) was spent, by kind (retry, hedge).',
      labelNames: ['upstream', 'kind'],
      registers: [register],
    });
    const retryOverflows: Counter<'upstream'> = new Counter({
      name: 'meshlet_retry_overflows_total',
      help: 'Retries not sent because policy.limits.maxRetries retries to the upstream were in flight already.',
      labelNames: ['upstream'],
      registers: [register],
    });
    // The four are read together from each upstream's handle, when the first of them is collected.
    const exportRetryFamilies = (): void => {
      retries.reset();
      hedges.reset();
      budgetExhausted.reset();
      retryOverflows.reset();
      for (const { metrics } of this.upstreams.values()) metrics.exportRetries(retries, hedges, budgetExhausted, retryOverflows);
    };
    const overflows: Counter<'upstream' | 'limit'> = new Counter({
      name: 'meshlet_upstream_overflows_total',
      help: 'Calls refused at once with 503 MESHLET_UPSTREAM_OVERFLOW because an upstream-wide limit was reached, by limit (maxConcurrent, maxPending).',
      labelNames: ['upstream', 'limit'],
      registers: [register],
      collect: () => {
        overflows.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportOverflows(overflows);
      },
    });
    const breakerTransitions: Counter<'upstream' | 'endpoint' | 'from' | 'to'> = new Counter({
      name: 'meshlet_breaker_transitions_total',
      help: 'Circuit breaker state changes, by breaker (endpoint; "" for the upstream\'s own) and from / to state.',
      labelNames: ['upstream', 'endpoint', 'from', 'to'],
      registers: [register],
      collect: () => {
        breakerTransitions.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportBreakerTransitions(breakerTransitions);
      },
    });
    const breakerStates: Gauge<'upstream' | 'endpoint'> = new Gauge({
      name: 'meshlet_breaker_state',
      help: 'Circuit breaker state per breaker (endpoint; "" for the upstream\'s own): 0 closed, 1 half-open, 2 open.',
      labelNames: ['upstream', 'endpoint'],
      registers: [register],
      collect: () => {
        breakerStates.reset();
        for (const { metrics } of this.upstreams.values()) metrics.exportBreakerStates(breakerStates);
      },
    });

    this.endpointCounts = new Gauge({
      name: 'meshlet_endpoints',
      help: 'Endpoints of an upstream by health.',
      labelNames: ['upstream', 'health'],
      registers: [register],
    });
    this.configReloads = new Counter({
      name: 'meshlet_config_reloads_total',
      help: 'Config reloads, applied or rejected.',
      labelNames: ['result'],
      registers: [register],
    });
    this.configReloads.inc({ result: 'applied' }, 0);
    this.configReloads.inc({ result: 'rejected' }, 0);
    this.requestsRefused = new Counter({
      name: 'meshlet_requests_refused_total',
      help: 'Client requests answered by the agent without any upstream work because the process was at a limit (overloaded: listeners.maxRequestsInFlight).',
      labelNames: ['listener', 'reason'],
      registers: [register],
    });
    this.connectionsRejected = new Counter({
      name: 'meshlet_connections_rejected_total',
      help: 'Client connections closed on arrival because the listener or the process was at its connection cap.',
      labelNames: ['listener'],
      registers: [register],
    });
    this.connectionsClosed = new Counter({
      name: 'meshlet_connections_closed_total',
      help: 'Client connections the agent closed: timeouts, eviction at the cap, rapid reset, pipelining overflow.',
      labelNames: ['listener', 'reason'],
      registers: [register],
    });
    const openConnections: Gauge<'listener'> = new Gauge({
      name: 'meshlet_connections_open',
      help: 'Client connections a listener holds open.',
      labelNames: ['listener'],
      registers: [register],
      collect: () => {
        openConnections.reset();
        for (const [listener, read] of this.openConnectionSources) openConnections.set({ listener }, read());
      },
    });
    const concurrencyLimits: Gauge<'service'> = new Gauge({
      name: 'meshlet_concurrency_limit',
      help: 'Calls an inbound service admits at once to its local application: services[].limits.maxConcurrent, or the adaptive limit as it is now.',
      labelNames: ['service'],
      registers: [register],
      collect: () => {
        concurrencyLimits.reset();
        for (const [service, read] of this.concurrencyLimitSources) concurrencyLimits.set({ service }, read());
      },
    });
    const internalErrors = new Counter({
      name: 'meshlet_internal_errors_total',
      help: 'Exceptions that escaped the agent while handling a connection or request, by site; each failed that request alone.',
      labelNames: ['site'],
      registers: [register],
    });
    const bound = {} as Record<InternalErrorSite, BoundCounter>;
    for (const site of INTERNAL_ERROR_SITES) {
      bound[site] = internalErrors.labels(site);
      internalErrors.inc({ site }, 0);
    }
    this.internalErrors = bound;
    this.malformed = new Counter({
      name: 'meshlet_malformed_requests_total',
      help: 'Requests or upstream responses refused as malformed, by listener and reason.',
      labelNames: ['listener', 'reason'],
      registers: [register],
    });
  }

  get contentType(): string {
    return this.register.contentType;
  }

  metricsText(): Promise<string> {
    return this.register.metrics();
  }

  /** The handle for one upstream; the same object for as long as the upstream is not removed. */
  bindUpstream(upstream: string): UpstreamMetrics {
    return this.upstreamEntry(upstream).metrics;
  }

  /** The handle for one endpoint; the same object until removeEndpoint / removeUpstream. */
  bindEndpoint(upstream: string, endpointAddress: string): EndpointMetrics {
    const entry = this.upstreamEntry(upstream);
    let endpoint = entry.endpoints.get(endpointAddress);
    if (endpoint === undefined) {
      endpoint = new EndpointMetrics(upstream, endpointAddress);
      entry.endpoints.set(endpointAddress, endpoint);
    }
    return endpoint;
  }

  /** Drops every series of the upstream and its endpoints. */
  removeUpstream(upstream: string): void {
    this.upstreams.delete(upstream);
    for (const health of ENDPOINT_HEALTHS) this.endpointCounts.remove({ upstream, health });
  }

  removeEndpoint(upstream: string, endpointAddress: string): void {
    this.upstreams.get(upstream)?.endpoints.delete(endpointAddress);
  }

  setEndpointCounts(upstream: string, counts: EndpointCounts): void {
    for (const health of ENDPOINT_HEALTHS) this.endpointCounts.set({ upstream, health }, counts[health]);
  }

  configReload(result: ConfigReloadResult): void {
    this.configReloads.inc({ result });
  }

  /** `reason` e.g. bad_request, header_overflow, bad_chunking, unknown_host, bad_upstream_response. */
  malformedRequest(listener: string, reason: string, count = 1): void {
    rememberReason(this.malformedReasons, listener, reason);
    this.malformed.inc({ listener, reason }, count);
  }

  /** `reason`: overloaded. */
  requestRefused(listener: string, reason: string): void {
    rememberReason(this.refusalReasons, listener, reason);
    this.requestsRefused.inc({ listener, reason });
  }

  connectionRejected(listener: string): void {
    this.connectionsRejected.inc({ listener });
  }

  /** `reason`: headers_timeout, idle_timeout, body_idle_timeout, evicted, rapid_reset, pipeline_overflow. */
  connectionClosed(listener: string, reason: string): void {
    rememberReason(this.closeReasons, listener, reason);
    this.connectionsClosed.inc({ listener, reason });
  }

  watchOpenConnections(listener: string, read: () => number): void {
    this.openConnectionSources.set(listener, read);
    this.connectionsRejected.inc({ listener }, 0);
  }

  watchConcurrencyLimit(service: string, read: () => number): void {
    this.concurrencyLimitSources.set(service, read);
  }

  removeConcurrencyLimit(service: string): void {
    this.concurrencyLimitSources.delete(service);
  }

  /** Drops the series of a listener that config removed. */
  removeListener(listener: string): void {
    for (const reason of this.malformedReasons.get(listener) ?? []) this.malformed.remove({ listener, reason });
    this.malformedReasons.delete(listener);
    for (const reason of this.closeReasons.get(listener) ?? []) this.connectionsClosed.remove({ listener, reason });
    this.closeReasons.delete(listener);
    for (const reason of this.refusalReasons.get(listener) ?? []) this.requestsRefused.remove({ listener, reason });
    this.refusalReasons.delete(listener);
    this.connectionsRejected.remove({ listener });
    this.openConnectionSources.delete(listener);
  }

  /** Every upstream's handle with its endpoints' (inbound services' too), for the traffic stats read off them. */
  *trafficHandles(): Generator<TrafficHandles> {
    for (const { metrics, endpoints } of this.upstreams.values()) yield { upstream: metrics, endpoints: endpoints.values() };
  }

  private upstreamEntry(upstream: string): UpstreamEntry {
    let entry = this.upstreams.get(upstream);
    if (entry === undefined) {
      entry = { metrics: new UpstreamMetrics(upstream), endpoints: new Map() };
      this.upstreams.set(upstream, entry);
    }
    return entry;
  }

  private *allEndpoints(): Generator<EndpointMetrics> {
    for (const { endpoints } of this.upstreams.values()) yield* endpoints.values();
  }

  private *durationSeries(): Generator<LiveSeries<DurationLabel>> {
    for (const endpoint of this.allEndpoints()) yield* endpoint.durationSeries();
  }
}

/** Notes a reason seen for a listener, so removeListener() can drop each of its series. */
function rememberReason(seen: Map<string, Set<string>>, listener: string, reason: string): void {
  let reasons = seen.get(listener);
  if (reasons === undefined) {
    reasons = new Set();
    seen.set(listener, reasons);
  }
  reasons.add(reason);
}
