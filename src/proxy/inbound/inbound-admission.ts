// The step in front of a local application: an inbound service admits calls while its rate
// limit has a token and its concurrency limit (fixed, or adaptive to the application's latency)
// has room, and refuses the rest at once instead of queueing them: 429 MESHLET_RATE_LIMITED
// over the rate, 503 MESHLET_OVERLOADED over the concurrency (gRPC RESOURCE_EXHAUSTED for
// both), each with retry-after, so an overloaded service answers its callers early.

import type { OutgoingHttpHeaders } from 'node:http';
import type { InternalErrorSite } from '../../observability/metrics.ts';
import type { TokenBucket } from '../../resilience/token-bucket.ts';
import { NO_ATTEMPT, PassThroughAttempt, type Attempt, type AttemptHandler, type CancelReason, type Dispatcher } from '../call/attempt.ts';
import type { CallTarget } from '../call/call-target.ts';
import type { AttemptReason } from '../call/outcome.ts';
import type { ProxyCall } from '../call/proxy-call.ts';
import type { ConcurrencyLimit } from './concurrency-limit.ts';

/**
 * A shed call may come back after this: by then the calls in flight have moved on (a local
 * application answers in milliseconds) or the limit has adapted. Envoy sends none; a client
 * that honours one spreads its retries instead of hammering at once.
 */
export const SHED_RETRY_AFTER_SECONDS = 1;

/** What a service admits; replaced whole on a reload that changes services[].limits. */
export interface AdmissionLimits {
  readonly concurrency: ConcurrencyLimit;
  /** Which limit it is, for the shed's message: "services[].limits.maxConcurrent (8)". */
  readonly concurrencyText: string;
  readonly rate: TokenBucket | undefined;
  /** "services[].limits.rateLimit (100 per second, burst 20)" */
  readonly rateText: string;
}

/** Where refusals are counted (metrics, decision counters), bound once per service. */
export interface AdmissionRefusals {
  shed(): void;
  rateLimited(): void;
}

export class InboundAdmission<T extends CallTarget> implements Dispatcher<T> {
  private current: AdmissionLimits;

  constructor(
    private readonly next: Dispatcher<T>,
    limits: AdmissionLimits,
    private readonly refusals: AdmissionRefusals,
  ) {
    this.current = limits;
  }

  get limits(): AdmissionLimits {
    return this.current;
  }

  /** A reload's new limits; calls admitted under the old ones release to those. */
  configure(limits: AdmissionLimits): void {
    this.current = limits;
  }

  dispatch(call: ProxyCall<T>, handler: AttemptHandler): Attempt {
    const limits = this.current;
    const rate = limits.rate;
    if (rate !== undefined && !rate.tryTake()) {
      this.refusals.rateLimited();
      // retry-after takes whole seconds.
      call.refuse('MESHLET_RATE_LIMITED', `over ${limits.rateText}`, Math.max(1, Math.ceil(rate.retryAfterMs() / 1000)));
      return NO_ATTEMPT;
    }
    const concurrency = limits.concurrency;
    if (!concurrency.tryAcquire()) {
      this.refusals.shed();
      call.refuse('MESHLET_OVERLOADED', `${concurrency.inFlight} calls to the local application are in flight, the most ${limits.concurrencyText} allows`, SHED_RETRY_AFTER_SECONDS);
      return NO_ATTEMPT;
    }
    return new AdmittedCall(this.next, call, handler, concurrency).start();
  }
}

/** Holds one admission until the call's attempts are over, however they end. */
class AdmittedCall<T extends CallTarget> extends PassThroughAttempt {
  private admitted = true;

  constructor(
    private readonly next: Dispatcher<T>,
    private readonly call: ProxyCall<T>,
    handler: AttemptHandler,
    private readonly concurrency: ConcurrencyLimit,
  ) {
    super(handler);
  }

  start(): this {
    const inner = this.next.dispatch(this.call, this);
    if (this.admitted) this.inner = inner;
    return this;
  }

  override cancel(reason: CancelReason): void {
    this.leave();
    this.inner.cancel(reason);
  }

  override onEnd(trailers: OutgoingHttpHeaders | undefined): void {
    this.leave();
    this.handler.onEnd(trailers);
  }

  override onError(reason: AttemptReason, message: string): void {
    this.leave();
    this.handler.onError(reason, message);
  }

  override onInternalError(site: InternalErrorSite, err: unknown): void {
    this.leave();
    this.handler.onInternalError(site, err);
  }

  private leave(): void {
    if (!this.admitted) return;
    this.admitted = false;
    this.concurrency.release();
  }
}
