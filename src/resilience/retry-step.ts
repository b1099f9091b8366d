// policy.retry: an attempt that failed in a way the policy names is sent again, to another
// endpoint where there is one, after a backoff, until the attempts, the replay buffer, the
// call's deadline, the upstream's retry limit or its budget say no. Withhold, then commit: a
// retryable response is discarded at its head (nothing of it reached the client), and once a
// head is committed the call never retries. The first attempt goes out as it would without a
// policy: no timer (unless a per-try timeout is set), no promise, one object per call.
//
// Only the first retryable failure starts p-retry (retry-loop.ts) for the attempts after it.
// Each decision is still taken here, synchronously, when the failure is seen, so a head is
// withheld only when it really is retried; the loop carries the decision out and waits the
// delay taken here on the injected Clock, so a fake clock drives it in tests.

import type { OutgoingHttpHeaders } from 'node:http';
import type { Clock, Random, TimerHandle } from '../clock.ts';
import { GRPC_STATUS_NAMES } from '../config/grpc-status.ts';
import { NO_ATTEMPT, PassThroughAttempt, type Attempt, type AttemptHandler, type CancelReason, type Dispatcher, type Step } from '../proxy/call/attempt.ts';
import { neverProcessed, type AttemptReason } from '../proxy/call/outcome.ts';
import type { ProxyCall } from '../proxy/call/proxy-call.ts';
import { RetryLoop, type RetryLoopHost } from './retry-loop.ts';
import { backoffMs, SERVER_DELAY_CAP_MS, serverDelay } from './retry-delay.ts';
import type { RetryRules } from './retry-rules.ts';

export interface RetryEnvironment {
  readonly clock: Clock;
  readonly random: Random;
  /** Wall-clock ms, to read a retry-after that is a date. */
  readonly wallNow: () => number;
}

export function retryStep(env: RetryEnvironment): Step {
  return (next) => new RetryDispatcher(next, env);
}

class RetryDispatcher implements Dispatcher {
  constructor(
    readonly next: Dispatcher,
    readonly env: RetryEnvironment,
  ) {}

  dispatch(call: ProxyCall, handler: AttemptHandler): Attempt {
    const rules = call.upstream.settings.retry;
    if (rules === undefined) return this.next.dispatch(call, handler);
    call.upstream.extraAttempts.callStarted(rules.budget);
    return new RetryAttempt(this, call, handler, rules).start();
  }
}

type RetryState = 'trying' | 'committed' | 'done';

class RetryAttempt extends PassThroughAttempt implements RetryLoopHost {
  private state: RetryState = 'trying';
  /** Retries sent or scheduled so far. */
  private retries = 0;
  /** The per-try timeout of the attempt out now. */
  private timer: TimerHandle | undefined;
  /** Numbers the attempts sent; `live` is the one out now (0 for none), so an attempt that ended inside dispatch is not kept. */
  private sent = 0;
  private live = 0;
  /** This call holds one of the upstream's in-flight retries (policy.limits.maxRetries). */
  private holdsRetry = false;
  /** Made on the first retry or per-try timeout only: the success path builds neither. */
  private loop: RetryLoop | undefined;

  constructor(
    private readonly dispatcher: RetryDispatcher,
    private readonly call: ProxyCall,
    handler: AttemptHandler,
    private readonly rules: RetryRules,
  ) {
    super(handler);
  }

  start(): this {
    this.send();
    return this;
  }

  override cancel(reason: CancelReason): void {
    this.state = 'done';
    const attempt = this.inner;
    this.attemptOver();
    this.loop?.cancel();
    attempt.cancel(reason);
  }

  override onResponseStart(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean {
    if (this.state !== 'trying') return false;
    this.attemptOver();
    const trigger = this.retriedResponse(status, headers, endStream);
    if (trigger !== undefined && this.retry(trigger, undefined, headers)) return false;
    this.state = 'committed';
    this.loop?.answered();
    return this.handler.onResponseStart(status, headers, endStream, expectTrailers);
  }

  override onError(reason: AttemptReason, message: string): void {
    if (this.state === 'done') return;
    if (this.state === 'trying') {
      this.attemptOver();
      if (this.retry(reason, reason, undefined)) return;
    }
    this.fail(reason, message);
  }

  loopBroke(err: unknown): void {
    if (this.state === 'trying') this.handler.onInternalError('proxy_call', err);
  }

  private fail(reason: AttemptReason, message: string): void {
    this.state = 'done';
    this.loop?.ended();
    this.handler.onError(reason, message);
  }

  send(): void {
    const clock = this.dispatcher.env.clock;
    if (this.rules.perTryTimeoutMs > 0) this.timer = clock.setTimeout(RetryAttempt.perTryExpired, this.rules.perTryTimeoutMs, this);
    const attempt = ++this.sent;
    this.live = attempt;
    const inner = this.dispatcher.next.dispatch(this.call, this);
    if (this.live === attempt) this.inner = inner;
  }

  /**
   * One callback for every attempt's per-try timer: a callback bound to each attempt and kept on
   * it made about 1.5 MB survive every scavenge at 200 calls/s, promoted to the old generation,
   * and the scavenges took 4-7 ms instead of under 1 (bench/README.md, "Timers on the request path").
   */
  private static readonly perTryExpired = (attempt: RetryAttempt): void => attempt.expirePerTry();

  private expirePerTry(): void {
    this.timer = undefined;
    const attempt = this.inner;
    this.attemptOver();
    attempt.cancel('timeout');
    if (this.state !== 'trying') return;
    if (this.retry('per_try_timeout', 'timeout', undefined)) return;
    this.fail('timeout', `no response within the per-try timeout of ${this.rules.perTryTimeoutMs}ms`);
  }

  /** The attempt out now has ended (or is being ended): its timer and its retry slot go. */
  private attemptOver(): void {
    if (this.timer !== undefined) {
      this.dispatcher.env.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.holdsRetry) {
      this.holdsRetry = false;
      this.call.upstream.extraAttempts.retryEnded();
    }
  }

  /** What makes this response retryable (for the metric's label), or undefined when it is an answer. */
  private retriedResponse(status: number, headers: OutgoingHttpHeaders, endStream: boolean): string | undefined {
    const rules = this.rules;
    if (rules.statuses[status] === 1) return `http_${status}`;
    // Trailers-only: the gRPC status is in the head. In trailers, it comes after the commit.
    if (!endStream || !this.call.request.grpc) return undefined;
    const value = headers['grpc-status'];
    if (value === undefined) return undefined;
    const code = Number(value);
    return rules.grpcCodes[code] === 1 ? `grpc_${GRPC_STATUS_NAMES[code]!.toLowerCase()}` : undefined;
  }

  /**
   * Has the loop send the next attempt when everything allows one; false leaves the failure to
   * be passed up. A connection that broke under the first attempt says its endpoint went away
   * (a kill, a crash), not that it is overloaded: that first retry goes to another endpoint at
   * once, as HAProxy's redispatch does, and only later ones back off; the budget bounds them all.
   */
  private retry(trigger: string, reason: AttemptReason | undefined, headers: OutgoingHttpHeaders | undefined): boolean {
    const { call, rules } = this;
    if (reason !== undefined && !rules.reasons.has(reason)) return false;
    if (this.retries + 1 >= rules.attempts || !call.replayable) return false;
    // What never reached the application may go again whatever the method.
    if (!call.request.grpc && !rules.methods.has(call.request.method) && !neverProcessed(reason)) return false;
    const env = this.dispatcher.env;
    const remaining = call.remainingMs;
    const told = headers === undefined ? undefined : serverDelay(headers, call.request.grpc, env.wallNow());
    if (told === 'refused') return false;
    // A server's wait longer than the call can give is not waited for: the client gets its answer now.
    if (told !== undefined && told > Math.min(remaining, SERVER_DELAY_CAP_MS)) return false;
    const delay = told ?? (this.retries === 0 && reason === 'reset_before_headers' && call.upstream.endpointCount > 1 ? 0 : backoffMs(this.retries, rules, env.random));
    if (delay >= remaining) return false;
    if (!call.upstream.extraAttempts.admit('retry', rules.budget, rules.maxRetries)) return false;
    this.holdsRetry = true;
    this.retries++;
    // Nothing is out until the backoff ends; an attempt that failed inside dispatch is not kept.
    this.live = 0;
    this.inner = NO_ATTEMPT;
    call.upstream.metrics.retried(trigger);
    if (this.loop === undefined) this.loop = new RetryLoop(env.clock, this, rules.attempts, delay);
    else this.loop.retried(delay);
    return true;
  }
}
