// Defaults the schemas fill in, kept free of zod so the running agent can use them without
// loading the schema library (config is parsed in a worker; see src/cli/config-source.ts).

import type { AdaptiveConcurrencyConfig, ConnectionsConfig, GossipTimingConfig, LbConfig, LimitsConfig, ListenersConfig, PolicyConfig, SuccessRateConfig } from './types.ts';

export const LB_DEFAULTS = {
  algorithm: 'round_robin',
  decay: 10_000,
  choiceCount: 2,
  minRingSize: 1024,
  tableSize: 65_537,
} as const satisfies LbConfig;

/** Every circuit breaker's rolling window moves on in buckets this long (one shared rotation); a window is a whole number of them. */
export const BREAKER_BUCKET_MS = 1000;

/**
 * maxRetries: Envoy's max_retries is 3, which one instance dying with more than three calls in
 * flight already exceeds (kill -9 under 200 req/s of 50 ms calls fails some with it); the
 * retry budget is what bounds a storm, this only caps how many retries wait at once.
 */
export const LIMITS_DEFAULTS = { maxConcurrent: 1024, maxPending: 256, maxRetries: 32 } as const satisfies LimitsConfig;

/** What an inbound service admits at once to its local application (Envoy's default circuit-breaker max_requests). */
export const SERVICE_LIMITS_DEFAULTS = { maxConcurrent: 1024 } as const;

// panicThreshold: Envoy's healthy_panic_threshold, 50 %.
export const POLICY_DEFAULTS = { timeout: 15_000, connectTimeout: 1000, panicThreshold: 50 } as const;

/**
 * Success-rate ejection judges each endpoint against its peers without itself, so it works from
 * three endpoints (Envoy's rule needs five, and over three its own bad host widens the stdev
 * enough to hide it: see src/resilience/success-rate.ts). requestVolume and stdevFactor are
 * Envoy's; minimumGap (percentage points below the peers' mean) keeps a host whose peers all
 * answer 100 % from being ejected for a stray error.
 */
export const SUCCESS_RATE_DEFAULTS = { minimumHosts: 3, requestVolume: 100, stdevFactor: 1.9, minimumGap: 10 } as const satisfies SuccessRateConfig;

/**
 * Envoy's adaptive_concurrency defaults where it has them (a 100 ms sample window, a 25 %
 * buffer over the minimum RTT, measured again every minute at a concurrency of 3), and
 * Gradient2's initial limit of 20; smoothing halves each window's move, so one noisy window
 * cannot halve the limit on its own.
 */
export const ADAPTIVE_CONCURRENCY_DEFAULTS = {
  minLimit: 3,
  maxLimit: 1024,
  initialLimit: 20,
  tolerance: 1.25,
  smoothing: 0.5,
  sampleWindow: 100,
  minRttInterval: 60_000,
} as const satisfies AdaptiveConcurrencyConfig;

/**
 * What one call can make the agent hold is its two stream windows (client side and upstream
 * side) plus ~64 KiB of stream buffers; the session windows add nothing to that, since
 * node:http2 hands the connection-level window back as soon as data arrives, whether or not the
 * stream's reader takes it (node_http2.cc, OnDataChunkReceived: consume_connection at once,
 * consume_stream only on read). So the stream window is the memory knob. 128 KiB moves 100 MB
 * over loopback as fast as 256 KiB (~200 ms either way, h2c upload and h2 download, median of
 * 5); 64 KiB takes ~1.5× as long. At 128 KiB, maxRequestsInFlight (1024) calls hold at most
 * 1024 × 320 KiB = 320 MiB. An upstream across a slow link can raise its own streamWindow.
 */
const STREAM_WINDOW = 128 * 1024;

export const CONNECTIONS_DEFAULTS = {
  maxPerEndpoint: 128,
  maxStreamsPerConnection: 100,
  maxQueued: 1000,
  streamWindow: STREAM_WINDOW,
} as const satisfies ConnectionsConfig;

/**
 * Request bytes one call holds so that a retry or a hedge can send its body again: Linkerd's
 * 64 KiB, enough for nearly every unary gRPC call and JSON request. A body past it streams on
 * and is not retried. `policy.retry.bufferLimit`; the default also stands when an upstream has
 * no retry section, for the retries that are always safe (a refused stream).
 */
export const REPLAY_BUFFER_LIMIT = 64 * 1024;

/**
 * policy.fallback.staleIfError: five minutes covers a deploy or a restart going wrong; 1000
 * responses of up to 64 KiB, 8 MiB in all, bound what one upstream's cache holds.
 */
export const STALE_IF_ERROR_DEFAULTS = { maxAge: 300_000, maxEntries: 1000, maxBytes: 8 * 1024 * 1024, maxEntryBytes: 64 * 1024 } as const;

/** RFC 9110 §9.2.2: what a retry or a hedge may send again unless retry.methods says otherwise. */
export const IDEMPOTENT_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'];

/** The policy of an upstream that has no `policy` section. */
export const DEFAULT_POLICY: PolicyConfig = { lb: LB_DEFAULTS, ...POLICY_DEFAULTS, connections: CONNECTIONS_DEFAULTS };

// Go's and Envoy's stream limits (100-250); the stream window as above (Envoy's is 256 KiB).
export const LISTENERS_DEFAULTS = {
  maxConnections: 4096,
  // An idle h2c session costs ~32 KiB: 8192 of them 256 MiB, however many descriptors there are.
  maxConnectionsTotal: 8192,
  maxRequestsInFlight: 1024,
  headersTimeout: 10_000,
  idleTimeout: 60_000,
  bodyIdleTimeout: 30_000,
  // What all calls' replay buffers hold together, as grpc-js's retry_buffer_size (16 MiB by
  // default against its 1 MiB per call): 512 calls' full 64 KiB, half of maxRequestsInFlight,
  // so a burst of large uploads makes only its later calls not retryable, and the bound on
  // memory grows by 32 MiB, not by maxRequestsInFlight × bufferLimit.
  maxReplayBuffered: 32 * 1024 * 1024,
  http2: { maxConcurrentStreams: 100, streamWindow: STREAM_WINDOW },
} as const satisfies ListenersConfig;

/**
 * memberlist's DefaultLANConfig (Serf's LAN profile), so the bench compares like with like;
 * reclaimTime is ours (memberlist keeps dead members forever), reconnectInterval is Serf's.
 */
export const GOSSIP_TIMING_DEFAULTS = {
  probeInterval: 1000,
  probeTimeout: 500,
  indirectChecks: 3,
  gossipInterval: 200,
  gossipNodes: 3,
  pushPullInterval: 30_000,
  suspicionMultiplier: 4,
  suspicionMaxTimeoutMultiplier: 6,
  retransmitMultiplier: 4,
  reclaimTime: 30_000,
  reconnectInterval: 30_000,
} as const satisfies GossipTimingConfig;
