// upstreams[].policy: timeouts, balancing and the resilience sections. Each section is
// optional; one that is written gets defaults for the fields left out.

import { z } from 'zod';
import { formatDuration } from './duration.ts';
import { fallbackSchema } from './fallback-schema.ts';
import { byteSize, duration, positiveInt } from './fields.ts';
import { BREAKER_BUCKET_MS, CONNECTIONS_DEFAULTS, IDEMPOTENT_METHODS, LB_DEFAULTS, LIMITS_DEFAULTS, POLICY_DEFAULTS, REPLAY_BUFFER_LIMIT, SUCCESS_RATE_DEFAULTS } from './defaults.ts';
import { lbSchema } from './lb-schema.ts';
import { describeValue } from './messages.ts';
import type { CircuitBreakerConfig, ConnectionsConfig, HedgeConfig, LimitsConfig, OutlierDetectionConfig, PolicyConfig, RateLimitConfig, RetryConfig, SuccessRateConfig } from './types.ts';

/** What a retry may be triggered by: transport failures, HTTP status classes, gRPC statuses. */
export const RETRY_ON = [
  'connect-failure',
  'refused-stream',
  'reset',
  'timeout',
  '5xx',
  'gateway-error',
  'retriable-4xx',
  'unavailable',
  'resource-exhausted',
  'cancelled',
  'deadline-exceeded',
] as const;

/** A method token as RFC 9110 writes the registered ones. */
const METHOD_TOKEN = /^[A-Z]+$/;

/** Istio's default triggers, less those of status codes the user has to name. */
export const DEFAULT_RETRY_ON: readonly (typeof RETRY_ON)[number][] = ['connect-failure', 'refused-stream', 'unavailable'];

const MAX_ATTEMPTS = 10;

const retrySchema = z
  .strictObject({
    attempts: z.int().min(1).max(MAX_ATTEMPTS).optional(),
    perTryTimeout: duration.optional(),
    backoff: z.strictObject({ base: duration.optional(), max: duration.optional() }).optional(),
    on: z.array(z.enum(RETRY_ON)).min(1).optional(),
    budget: z
      .strictObject({ ratio: z.number().gt(0).max(1).optional(), minPerSecond: z.int().min(0).optional() })
      .optional(),
    // 0: no body is ever replayed, only requests without one. 16 MiB per call is past any
    // request a retry should hold in memory; stream it instead.
    bufferLimit: byteSize(0, 16 * 1024 * 1024).optional(),
    // Statuses a server sends to say "not now": 3xx and below are answers, never failures.
    statuses: z.array(z.int().min(400).max(599)).min(1).optional(),
    methods: z.array(z.string().regex(METHOD_TOKEN, 'expected an HTTP method in capitals, such as GET or POST')).min(1).optional(),
  })
  .transform((raw, ctx): RetryConfig => {
    const base = raw.backoff?.base ?? 25;
    // Envoy's rule: the cap defaults to ten times the base.
    const max = raw.backoff?.max ?? base * 10;
    if (max < base) {
      ctx.addIssue({
        code: 'custom',
        path: ['backoff', 'max'],
        message: `must not be shorter than backoff.base (${formatDuration(base)})`,
        input: max,
      });
    }
    return {
      // Total tries, the first included: 2 is one retry (Envoy's and Istio's default).
      attempts: raw.attempts ?? 2,
      ...(raw.perTryTimeout !== undefined ? { perTryTimeout: raw.perTryTimeout } : {}),
      backoff: { base, max },
      on: [...new Set(raw.on ?? DEFAULT_RETRY_ON)],
      ...(raw.budget ? { budget: { ratio: raw.budget.ratio ?? 0.2, minPerSecond: raw.budget.minPerSecond ?? 10 } } : {}),
      bufferLimit: raw.bufferLimit ?? REPLAY_BUFFER_LIMIT,
      ...(raw.statuses ? { statuses: [...new Set(raw.statuses)] } : {}),
      ...(raw.methods ? { methods: [...new Set(raw.methods)] } : {}),
    };
  });

/** At most this many attempts of one call out at once: each one more is a full extra request. */
const MAX_HEDGED_ATTEMPTS = 5;

const hedgeDelay = z.unknown().transform((input, ctx): number | 'p95' => {
  if (input === 'p95') return input;
  const parsed = duration.safeParse(input);
  if (parsed.success) return parsed.data;
  ctx.addIssue({ code: 'custom', message: `expected a duration such as 20ms, or p95, got ${describeValue(input)}`, input });
  return z.NEVER;
});

const hedgeSchema = z
  .strictObject({
    delay: hedgeDelay.optional(),
    maxAttempts: z.int().min(2).max(MAX_HEDGED_ATTEMPTS).optional(),
  })
  .transform((raw): HedgeConfig => ({ delay: raw.delay ?? 'p95', maxAttempts: raw.maxAttempts ?? 2 }));

const MAX_BREAKER_WINDOW_MS = 10 * 60_000;

// Hystrix's defaults: 50% errors over 10s with at least 20 calls opens it for 5s; then one
// probe at a time (opossum's and Hystrix's half-open admit one).
const circuitBreakerSchema = z
  .strictObject({
    errorThresholdPercentage: z.number().gt(0).max(100).optional(),
    volumeThreshold: z.int().min(0).optional(),
    window: duration.optional(),
    resetTimeout: duration.optional(),
    halfOpenRequests: positiveInt.max(1000).optional(),
  })
  .transform((raw, ctx): CircuitBreakerConfig => {
    const window = raw.window ?? 10_000;
    // Every breaker's window moves on in buckets of one shared rotation (src/resilience/breaker-rotation.ts);
    // each bucket is an object per breaker, so the window is bounded too.
    if (window < BREAKER_BUCKET_MS || window % BREAKER_BUCKET_MS !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['window'],
        message: `must be a whole number of the breakers' ${formatDuration(BREAKER_BUCKET_MS)} buckets (at least one), got ${formatDuration(window)}`,
        input: window,
      });
    } else if (window > MAX_BREAKER_WINDOW_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['window'],
        message: `must be at most ${formatDuration(MAX_BREAKER_WINDOW_MS)} (${MAX_BREAKER_WINDOW_MS / BREAKER_BUCKET_MS} buckets), got ${formatDuration(window)}`,
        input: window,
      });
    }
    return {
      errorThresholdPercentage: raw.errorThresholdPercentage ?? 50,
      volumeThreshold: raw.volumeThreshold ?? 20,
      window,
      resetTimeout: raw.resetTimeout ?? 5000,
      halfOpenRequests: raw.halfOpenRequests ?? 1,
    };
  });

const limitsSchema = z
  .strictObject({ maxConcurrent: positiveInt.optional(), maxPending: z.int().min(0).optional(), maxRetries: z.int().min(0).optional() })
  .transform(
    (raw): LimitsConfig => ({
      maxConcurrent: raw.maxConcurrent ?? LIMITS_DEFAULTS.maxConcurrent,
      maxPending: raw.maxPending ?? LIMITS_DEFAULTS.maxPending,
      maxRetries: raw.maxRetries ?? LIMITS_DEFAULTS.maxRetries,
    }),
  );

// Envoy's outlier-detection defaults, but for success rate (see SUCCESS_RATE_DEFAULTS).
const successRateSchema = z
  .strictObject({
    // A host is judged against at least one other (its peers, without itself).
    minimumHosts: z.int().min(2).optional(),
    requestVolume: positiveInt.optional(),
    stdevFactor: z.number().min(0).optional(),
    minimumGap: z.number().min(0).max(100).optional(),
  })
  .transform((raw): SuccessRateConfig => ({ ...SUCCESS_RATE_DEFAULTS, ...raw }));

const outlierDetectionSchema = z
  .strictObject({
    consecutiveFailures: positiveInt.optional(),
    interval: duration.optional(),
    baseEjectionTime: duration.optional(),
    maxEjectionTime: duration.optional(),
    maxEjectionPercent: z.number().min(0).max(100).optional(),
    successRate: successRateSchema.optional(),
  })
  .transform((raw, ctx): OutlierDetectionConfig => {
    const baseEjectionTime = raw.baseEjectionTime ?? 30_000;
    // Envoy's max_ejection_time: 300 s, or the base when that is longer.
    const maxEjectionTime = raw.maxEjectionTime ?? Math.max(300_000, baseEjectionTime);
    if (maxEjectionTime < baseEjectionTime) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxEjectionTime'],
        message: `must not be shorter than baseEjectionTime (${formatDuration(baseEjectionTime)})`,
        input: maxEjectionTime,
      });
    }
    return {
      consecutiveFailures: raw.consecutiveFailures ?? 5,
      interval: raw.interval ?? 10_000,
      baseEjectionTime,
      maxEjectionTime,
      maxEjectionPercent: raw.maxEjectionPercent ?? 10,
      successRate: raw.successRate ?? SUCCESS_RATE_DEFAULTS,
    };
  });

/** HTTP/2 allows windows up to 2^31-1; beyond 16 MiB a window only lets one stream hold more memory. */
export const streamWindow = byteSize(16 * 1024, 16 * 1024 * 1024);

const connectionsSchema = z
  .strictObject({
    maxPerEndpoint: positiveInt.max(100_000).optional(),
    maxStreamsPerConnection: positiveInt.max(10_000).optional(),
    maxQueued: z.int().min(0).max(1_000_000).optional(),
    streamWindow: streamWindow.optional(),
  })
  .transform(
    (raw): ConnectionsConfig => ({
      maxPerEndpoint: raw.maxPerEndpoint ?? CONNECTIONS_DEFAULTS.maxPerEndpoint,
      maxStreamsPerConnection: raw.maxStreamsPerConnection ?? CONNECTIONS_DEFAULTS.maxStreamsPerConnection,
      maxQueued: raw.maxQueued ?? CONNECTIONS_DEFAULTS.maxQueued,
      streamWindow: raw.streamWindow ?? CONNECTIONS_DEFAULTS.streamWindow,
    }),
  );

/** A million calls a second is past what one agent forwards; a larger number is a typo. */
const MAX_RATE = 1_000_000;

/** A token bucket (policy.rateLimit, and an inbound service's services[].limits.rateLimit). */
export const rateLimitSchema = z
  .strictObject({
    requestsPerSecond: z.number().gt(0).max(MAX_RATE),
    burst: positiveInt.max(MAX_RATE).optional(),
  })
  .transform((raw): RateLimitConfig => ({ requestsPerSecond: raw.requestsPerSecond, burst: raw.burst ?? Math.max(1, Math.ceil(raw.requestsPerSecond)) }));

export const policySchema = z
  .strictObject({
    lb: lbSchema.optional(),
    timeout: duration.optional(),
    connectTimeout: duration.optional(),
    panicThreshold: z.number().min(0).max(100).optional(),
    connections: connectionsSchema.optional(),
    retry: retrySchema.optional(),
    hedge: hedgeSchema.optional(),
    circuitBreaker: circuitBreakerSchema.optional(),
    limits: limitsSchema.optional(),
    outlierDetection: outlierDetectionSchema.optional(),
    fallback: fallbackSchema.optional(),
    rateLimit: rateLimitSchema.optional(),
  })
  .superRefine((raw, ctx) => {
    // A hedge sends the request twice at once, so it is only for what may be processed twice.
    const unsafe = raw.hedge ? raw.retry?.methods?.filter((method) => !IDEMPOTENT_METHODS.includes(method)) : undefined;
    if (unsafe !== undefined && unsafe.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['hedge'],
        message: `hedging sends a request more than once at a time, so it applies only to idempotent methods, but retry.methods lists ${unsafe.join(', ')}`,
        input: raw.hedge,
      });
    }
  })
  .transform(
    (raw): PolicyConfig => ({
      lb: raw.lb ?? LB_DEFAULTS,
      timeout: raw.timeout ?? POLICY_DEFAULTS.timeout,
      connectTimeout: raw.connectTimeout ?? POLICY_DEFAULTS.connectTimeout,
      panicThreshold: raw.panicThreshold ?? POLICY_DEFAULTS.panicThreshold,
      connections: raw.connections ?? CONNECTIONS_DEFAULTS,
      ...(raw.retry ? { retry: raw.retry } : {}),
      ...(raw.hedge ? { hedge: raw.hedge } : {}),
      ...(raw.circuitBreaker ? { circuitBreaker: raw.circuitBreaker } : {}),
      ...(raw.limits ? { limits: raw.limits } : {}),
      ...(raw.outlierDetection ? { outlierDetection: raw.outlierDetection } : {}),
      ...(raw.fallback ? { fallback: raw.fallback } : {}),
      ...(raw.rateLimit ? { rateLimit: raw.rateLimit } : {}),
    }),
  );
