// What policy.retry asks for, turned once per config into tables a call reads with one index:
// which statuses, gRPC codes and attempt reasons are retried, for which methods, how long to
// wait. The retry and hedge steps read these from the upstream's settings, never the config.

import { IDEMPOTENT_METHODS, LIMITS_DEFAULTS } from '../config/defaults.ts';
import { grpcStatusCode } from '../config/grpc-status.ts';
import type { HedgeConfig, PolicyConfig, RetryConfig } from '../config/types.ts';
import type { AttemptReason } from '../proxy/call/outcome.ts';

export interface RetryRules {
  /** Total tries, the first included. */
  readonly attempts: number;
  /** 0 for none. */
  readonly perTryTimeoutMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Indexed by HTTP status: 1 when a response with it is retried. */
  readonly statuses: Uint8Array;
  /** Indexed by gRPC code: 1 when a trailers-only response with it is retried. */
  readonly grpcCodes: Uint8Array;
  readonly reasons: ReadonlySet<AttemptReason>;
  readonly methods: ReadonlySet<string>;
  /** Retries in flight to the upstream at once at most (policy.limits.maxRetries). */
  readonly maxRetries: number;
  readonly budget: BudgetRules | undefined;
}

export interface BudgetRules {
  readonly ratio: number;
  readonly minPerSecond: number;
}

/** policy.hedge as the hedge step reads it. */
export interface HedgeRules {
  /** Undefined: the p95 of the upstream's recent attempt latencies. */
  readonly delayMs: number | undefined;
  readonly maxAttempts: number;
  /** Hedges spend the retry budget (policy.retry.budget) when there is one. */
  readonly budget: BudgetRules | undefined;
  /** No retry step counts this upstream's calls into the budget, so the hedge step does. */
  readonly countsCalls: boolean;
}

export function hedgeRules(hedge: HedgeConfig, policy: PolicyConfig): HedgeRules {
  return {
    delayMs: hedge.delay === 'p95' ? undefined : hedge.delay,
    maxAttempts: hedge.maxAttempts,
    budget: policy.retry?.budget,
    countsCalls: policy.retry === undefined,
  };
}

/** Every transport failure before a response head: what Envoy's 5xx and gateway-error retry besides statuses. */
const NO_RESPONSE: readonly AttemptReason[] = ['connect_failed', 'connect_timeout', 'reset_before_headers', 'refused_stream', 'goaway', 'timeout'];

const REASONS_BY_TRIGGER: Readonly<Record<string, readonly AttemptReason[]>> = {
  'connect-failure': ['connect_failed', 'connect_timeout'],
  'refused-stream': ['refused_stream', 'goaway'],
  reset: ['reset_before_headers', 'refused_stream', 'goaway'],
  timeout: ['timeout', 'connect_timeout'],
  '5xx': NO_RESPONSE,
  'gateway-error': NO_RESPONSE,
};

const STATUSES_BY_TRIGGER: Readonly<Record<string, readonly number[]>> = {
  '5xx': Array.from({ length: 100 }, (_, i) => 500 + i),
  'gateway-error': [502, 503, 504],
  // Envoy's retriable-4xx: a conflict is the one 4xx that may go away on its own.
  'retriable-4xx': [409],
};

const GRPC_BY_TRIGGER: Readonly<Record<string, number>> = {
  unavailable: grpcStatusCode('UNAVAILABLE'),
  'resource-exhausted': grpcStatusCode('RESOURCE_EXHAUSTED'),
  cancelled: grpcStatusCode('CANCELLED'),
  'deadline-exceeded': grpcStatusCode('DEADLINE_EXCEEDED'),
};

export function retryRules(retry: RetryConfig, policy: PolicyConfig): RetryRules {
  const statuses = new Uint8Array(600);
  const grpcCodes = new Uint8Array(17);
  // A per-try timeout is retried whatever `on` says: setting one asks for exactly that.
  const reasons = new Set<AttemptReason>(retry.perTryTimeout !== undefined ? ['timeout'] : []);
  for (const trigger of retry.on) {
    for (const status of STATUSES_BY_TRIGGER[trigger] ?? []) statuses[status] = 1;
    for (const reason of REASONS_BY_TRIGGER[trigger] ?? []) reasons.add(reason);
    const code = GRPC_BY_TRIGGER[trigger];
    if (code !== undefined) grpcCodes[code] = 1;
  }
  for (const status of retry.statuses ?? []) statuses[status] = 1;
  return {
    attempts: retry.attempts,
    perTryTimeoutMs: retry.perTryTimeout ?? 0,
    backoffBaseMs: retry.backoff.base,
    backoffMaxMs: retry.backoff.max,
    statuses,
    grpcCodes,
    reasons,
    methods: new Set(retry.methods ?? IDEMPOTENT_METHODS),
    maxRetries: (policy.limits ?? LIMITS_DEFAULTS).maxRetries,
    budget: retry.budget,
  };
}
