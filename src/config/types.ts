// The effective agent config after parsing, interpolation, validation and defaults. The YAML
// shape users write is examples/agent.yaml; schema.ts turns it into these types.
// Durations are milliseconds; addresses are parsed once here so nothing re-parses them later.

export interface HostPort {
  readonly host: string;
  readonly port: number;
  /** As written, e.g. "127.0.0.1:9001" or "[::1]:9001". */
  readonly text: string;
}

export type Protocol = 'http' | 'http2' | 'grpc';

export type LbAlgorithm =
  | 'round_robin'
  | 'weighted_round_robin'
  | 'random'
  | 'least_request'
  | 'peak_ewma'
  | 'ring_hash'
  | 'maglev';

export type HashOn =
  | { readonly header: string }
  | { readonly cookie: string }
  | { readonly sourceAddress: true };

export interface LbConfig {
  readonly algorithm: LbAlgorithm;
  /** ring_hash / maglev: where the hash key comes from; absent → random pick. */
  readonly hashOn?: HashOn;
  /** peak_ewma: decay time constant in ms (default 10000, as Finagle). */
  readonly decay: number;
  /** least_request: how many random choices (default 2). */
  readonly choiceCount: number;
  /** ring_hash: virtual nodes per unit of weight, min ring size (default 1024). */
  readonly minRingSize: number;
  /** maglev: lookup table size, a prime (default 65537). */
  readonly tableSize: number;
}

export interface EndpointConfig {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly zone?: string;
  readonly backup: boolean;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface RetryConfig {
  readonly attempts: number;
  readonly perTryTimeout?: number;
  readonly backoff: { readonly base: number; readonly max: number };
  readonly on: readonly string[];
  readonly budget?: { readonly ratio: number; readonly minPerSecond: number };
  /** Request body bytes a call holds for a retry or hedge to send again (default 64KiB); a longer body is not retried. */
  readonly bufferLimit: number;
  /** HTTP statuses retried besides those `on` names (e.g. 503, 429). */
  readonly statuses?: readonly number[];
  /** HTTP methods retried (default the idempotent ones: GET HEAD OPTIONS TRACE PUT DELETE); gRPC calls are retried whatever their method. */
  readonly methods?: readonly string[];
}

/** A second attempt sent while the first is still out, after `delay` ms or the endpoints' observed p95. */
export interface HedgeConfig {
  readonly delay: number | 'p95';
  /** Attempts at once at most, the first included (default 2). */
  readonly maxAttempts: number;
}

export interface CircuitBreakerConfig {
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly window: number;
  readonly resetTimeout: number;
  /** Probes a half-open breaker lets through at once; that many successes close it (default 1). */
  readonly halfOpenRequests: number;
}

export interface LimitsConfig {
  readonly maxConcurrent: number;
  readonly maxPending: number;
  /** Retries in flight to the upstream at once (as Envoy's max_retries, default 32); past it a call is not retried. */
  readonly maxRetries: number;
}

/** Ejection of an endpoint whose success rate over an interval falls well below its peers'. */
export interface SuccessRateConfig {
  /** Endpoints with requestVolume calls in the interval needed to judge any (default 3, at least 2). */
  readonly minimumHosts: number;
  /** Calls an endpoint needs in the interval to be judged (default 100). */
  readonly requestVolume: number;
  /** How many of the peers' standard deviations below their mean an outlier lies (default 1.9). */
  readonly stdevFactor: number;
  /** Percentage points below the peers' mean an outlier lies at least, whatever their spread (default 10). */
  readonly minimumGap: number;
}

export interface OutlierDetectionConfig {
  /** Failures in a row that eject an endpoint at once (default 5). */
  readonly consecutiveFailures: number;
  /** How often success rates are judged and ejections end, ms (default 10000). */
  readonly interval: number;
  /** An ejection lasts this × the times ejected recently, ms (default 30000) ... */
  readonly baseEjectionTime: number;
  /** ... up to this, ms (default 300000). */
  readonly maxEjectionTime: number;
  /** Endpoints ejected at once, percent of the upstream's (default 10); one may always be. */
  readonly maxEjectionPercent: number;
  readonly successRate: SuccessRateConfig;
}

/** policy.fallback.staleIfError: the last good answer to a GET, kept to be served when a call to it fails. */
export interface StaleIfErrorConfig {
  /** How old a kept response may be and still be served, ms (default 5m). */
  readonly maxAge: number;
  /** Responses kept per upstream (default 1000), the least recently used dropped first. */
  readonly maxEntries: number;
  /** Body bytes kept per upstream (default 8MiB). */
  readonly maxBytes: number;
  /** A response body larger than this is not kept (default 64KiB). */
  readonly maxEntryBytes: number;
}

export type FallbackConfig =
  | { readonly grpcStatus: string; readonly message?: string }
  | {
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body?: string;
      /** Served before the static response when a kept one fits the request. */
      readonly staleIfError?: StaleIfErrorConfig;
    }
  /** Stale responses only: a call with none kept fails as it would without a fallback. */
  | { readonly staleIfError: StaleIfErrorConfig };

/** policy.rateLimit: calls admitted to the upstream, a token bucket local to this agent. */
export interface RateLimitConfig {
  readonly requestsPerSecond: number;
  /** Calls admitted at once after a quiet spell (default: one second's worth, at least 1). */
  readonly burst: number;
}

/** Connections and streams the agent opens to one endpoint of an upstream. */
export interface ConnectionsConfig {
  /** HTTP/1.1: connections to one endpoint at once (default 128); each carries one request at a time. */
  readonly maxPerEndpoint: number;
  /** HTTP/2 and gRPC: streams open at once on the endpoint's session (default 100), lower if the endpoint says so. */
  readonly maxStreamsPerConnection: number;
  /** Requests waiting for a connection or stream per endpoint (default 1000); beyond, 503 MESHLET_UPSTREAM_OVERFLOW. */
  readonly maxQueued: number;
  /** HTTP/2 and gRPC: the receive window per stream the agent grants the endpoint, bytes (default 128KiB). */
  readonly streamWindow: number;
}

export interface PolicyConfig {
  readonly lb: LbConfig;
  /** Whole-request timeout in ms (default 15000); 504 / DEADLINE_EXCEEDED when exceeded. */
  readonly timeout: number;
  /** TCP connect timeout in ms (default 1000). */
  readonly connectTimeout: number;
  /**
   * Percent of primaries that must be eligible (default 50, 0: never): below it the upstream
   * is in panic and spreads calls over every primary whose breaker is not open.
   */
  readonly panicThreshold: number;
  readonly connections: ConnectionsConfig;
  readonly retry?: RetryConfig;
  readonly hedge?: HedgeConfig;
  readonly circuitBreaker?: CircuitBreakerConfig;
  readonly limits?: LimitsConfig;
  readonly outlierDetection?: OutlierDetectionConfig;
  readonly fallback?: FallbackConfig;
  readonly rateLimit?: RateLimitConfig;
}

export interface UpstreamConfig {
  readonly name: string;
  readonly protocol: Protocol;
  readonly listen?: HostPort;
  readonly endpoints: readonly EndpointConfig[];
  readonly policy: PolicyConfig;
}

export interface HealthCheckConfig {
  readonly http?: string;
  readonly grpc?: string | true;
  readonly tcp?: true;
  readonly interval: number;
  readonly timeout: number;
  readonly fall: number;
  readonly rise: number;
}

/** services[].limits.adaptive: a concurrency limit that follows the local application's latency (gradient-limit.ts). */
export interface AdaptiveConcurrencyConfig {
  readonly minLimit: number;
  readonly maxLimit: number;
  readonly initialLimit: number;
  /** Latency up to tolerance × the minimum RTT counts as no queueing. */
  readonly tolerance: number;
  /** Weight of each window's computed limit, (0, 1]. */
  readonly smoothing: number;
  /** ms */
  readonly sampleWindow: number;
  /** ms */
  readonly minRttInterval: number;
}

export interface ServiceLimitsConfig {
  /** Calls at once to the local application; beyond, the inbound listener sheds with 503 / RESOURCE_EXHAUSTED. The cap also with adaptive on. */
  readonly maxConcurrent: number;
  readonly adaptive?: AdaptiveConcurrencyConfig;
  /** Beyond it the inbound listener answers 429 (gRPC RESOURCE_EXHAUSTED) with retry-after. */
  readonly rateLimit?: RateLimitConfig;
}

export interface ServiceConfig {
  readonly name: string;
  readonly protocol: Protocol;
  readonly target: HostPort;
  readonly listen: HostPort;
  /** ms: the whole call to the local application, as an upstream's policy.timeout. */
  readonly timeout: number;
  readonly health?: HealthCheckConfig;
  readonly limits: ServiceLimitsConfig;
  /** What gossip advertises with this instance: callers' weighted pickers read it (default 1). */
  readonly weight: number;
  /** The instance's zone as gossip advertises it; "" when unset. */
  readonly zone: string;
}

export interface GossipConfig {
  readonly bind: HostPort;
  readonly advertise?: HostPort;
  readonly join: readonly HostPort[];
  readonly keys: readonly string[];
  /** The membership protocol's timing, durations in ms (defaults: GOSSIP_TIMING_DEFAULTS). */
  readonly timing: GossipTimingConfig;
}

export interface GossipTimingConfig {
  readonly probeInterval: number;
  readonly probeTimeout: number;
  readonly indirectChecks: number;
  readonly gossipInterval: number;
  readonly gossipNodes: number;
  readonly pushPullInterval: number;
  readonly suspicionMultiplier: number;
  readonly suspicionMaxTimeoutMultiplier: number;
  readonly retransmitMultiplier: number;
  readonly reclaimTime: number;
  readonly reconnectInterval: number;
}

export interface ControlConfig {
  /** The control plane's replicas, in the order tried ("a:7950,b:7950" in YAML); usually one. */
  readonly address: readonly HostPort[];
  /** The agent role's token, sent as `authorization: Bearer <token>`. */
  readonly token?: string;
  /** Where the last good snapshot is kept, as written; relative to the config file's folder (default: `<config file>.policy-cache.json`). */
  readonly cache?: string;
  /** ms between reports (default 5000); breaker transitions and ejections are reported at once besides. */
  readonly reportInterval: number;
  /** TLS to the control plane: PEM files; without `ca` the system's roots; `cert` and `key` together for mTLS. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

export interface LogConfig {
  readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** One JSON line per proxied request (default false). */
  readonly access: boolean;
}

/** Limits every listener applies to the connections clients open to it. */
export interface ListenersConfig {
  /** Client connections one listener holds open (default 4096); the process's descriptor limit may lower it. */
  readonly maxConnections: number;
  /**
   * Client connections all listeners together hold open (default 8192), so what idle connections
   * cost is bounded whatever the descriptor limit; the descriptor limit may lower it.
   */
  readonly maxConnectionsTotal: number;
  /** Client requests the whole process proxies at once, all listeners together; past it, 503 MESHLET_OVERLOADED (default 1024). */
  readonly maxRequestsInFlight: number;
  /** ms from a connection's start (or its first byte after a keep-alive pause) to a complete request head (default 10000). */
  readonly headersTimeout: number;
  /** ms a connection with no request in progress is kept: HTTP/1.1 keep-alive, HTTP/2 session without streams (default 60000). */
  readonly idleTimeout: number;
  /** ms without a byte from the client while a request body is incomplete (default 30000). */
  readonly bodyIdleTimeout: number;
  /** Request body bytes all calls together hold for replay (default 32MiB); a call that finds it full is not retried. */
  readonly maxReplayBuffered: number;
  readonly http2: {
    /** Streams a client may open at once on one connection (default 100). */
    readonly maxConcurrentStreams: number;
    /** Receive window per stream the agent grants clients, bytes (default 128KiB). */
    readonly streamWindow: number;
  };
}

export interface AgentConfig {
  readonly node: string;
  /** `token`: when set, every admin POST needs `authorization: Bearer <token>`; else only a loopback listener takes them. */
  readonly admin: { readonly listen: HostPort; readonly token?: string };
  readonly proxy?: { readonly listen: HostPort };
  readonly log: LogConfig;
  /** How long SIGTERM waits for in-flight requests, ms (default 10000). */
  readonly drainTimeout: number;
  readonly listeners: ListenersConfig;
  readonly gossip?: GossipConfig;
  readonly control?: ControlConfig;
  readonly services: readonly ServiceConfig[];
  readonly upstreams: readonly UpstreamConfig[];
}

/** A field that is parsed and validated but whose feature a later version enforces. */
export interface ConfigWarning {
  readonly path: string;
  readonly message: string;
}

export interface ConfigIssue {
  /** e.g. "upstreams[0].policy.lb.algorithm" */
  readonly path: string;
  readonly message: string;
}

export type LoadResult =
  | { readonly ok: true; readonly config: AgentConfig; readonly warnings: readonly ConfigWarning[] }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };
