// policy.rateLimit, the admission step: calls to the upstream pass while its token bucket has a
// token, and the rest are answered at once with 429 MESHLET_RATE_LIMITED (gRPC
// RESOURCE_EXHAUSTED) and a retry-after saying when the next token is due. The bucket is this
// agent's alone (Envoy's local rate limit): it protects the upstream from this application, it
// is no global quota. A call turned away here never reaches the fallback: a 429 is the answer
// that tells the client to slow down, and a fallback would hide it.

import type { Clock } from '../clock.ts';
import type { RateLimitConfig } from '../config/types.ts';
import { NO_ATTEMPT, type Attempt, type AttemptHandler, type Dispatcher, type Step } from '../proxy/call/attempt.ts';
import type { ProxyCall } from '../proxy/call/proxy-call.ts';
import { TokenBucket } from './token-bucket.ts';

export const rateLimit: Step = (next) => new RateLimitDispatcher(next);

/** An upstream's limit as its settings hold it: the bucket, and the words its refusals and decisions use. */
export class UpstreamRateLimit {
  readonly bucket: TokenBucket;
  readonly detail: string;
  /** The numbers behind a rate-limited decision, for a dashboard. */
  readonly data: Readonly<Record<string, number>>;

  constructor(clock: Clock, config: RateLimitConfig) {
    this.bucket = new TokenBucket(clock, config.requestsPerSecond, config.burst);
    this.detail = `over ${config.requestsPerSecond} calls/s (burst ${config.burst}), the most policy.rateLimit admits`;
    this.data = { requestsPerSecond: config.requestsPerSecond, burst: config.burst };
  }

  /** Seconds until the next token, at least 1: retry-after takes whole seconds. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.bucket.retryAfterMs() / 1000));
  }

  /** Bound once, read only when a decision is published. */
  readonly reason = (): string => `rate limited: ${this.detail}; next call admitted in ${Math.ceil(this.bucket.retryAfterMs())} ms`;
}

class RateLimitDispatcher implements Dispatcher {
  constructor(private readonly next: Dispatcher) {}

  dispatch(call: ProxyCall, handler: AttemptHandler): Attempt {
    const upstream = call.upstream;
    const limit = upstream.settings.rateLimit;
    if (limit === undefined || limit.bucket.tryTake()) return this.next.dispatch(call, handler);
    upstream.metrics.rateLimited();
    upstream.rateLimitDecisions.hit(limit.reason, limit.data);
    call.refuse('MESHLET_RATE_LIMITED', limit.detail, limit.retryAfterSeconds());
    return NO_ATTEMPT;
  }
}
