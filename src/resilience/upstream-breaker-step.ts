// The upstream's own circuit breaker, in front of the pick: while it is open every call fails
// fast with MESHLET_CIRCUIT_OPEN, with no pick and no connection attempt (the fallback step
// above answers those); half-open lets its probes through. Closed, it costs one field read.

import { NO_ATTEMPT, PassThroughAttempt, type Attempt, type AttemptHandler, type CancelReason, type Dispatcher, type Step } from '../proxy/call/attempt.ts';
import type { AttemptReason } from '../proxy/call/outcome.ts';
import type { ProxyCall } from '../proxy/call/proxy-call.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';

export const upstreamBreaker: Step = (next) => new UpstreamBreakerDispatcher(next);

class UpstreamBreakerDispatcher implements Dispatcher {
  constructor(private readonly next: Dispatcher) {}

  dispatch(call: ProxyCall, handler: AttemptHandler): Attempt {
    const breaker = call.upstream.breakers.upstream;
    if (breaker === undefined || breaker.state === 'closed') return this.next.dispatch(call, handler);
    if (!breaker.admit()) {
      handler.onError('circuit_open', breaker.state === 'open' ? `the circuit breaker of upstream ${call.upstream.name} is open` : `the circuit breaker of upstream ${call.upstream.name} is half-open and its probes are out`);
      return NO_ATTEMPT;
    }
    return new UpstreamProbe(breaker, call, handler).start(this.next);
  }
}

/**
 * A half-open upstream's probe. Its outcome reaches the breaker through Upstream.observe like
 * any other; a probe that never became an attempt (no endpoint could take it, its client went
 * away while it waited) gives its place back, or the breaker would wait for it forever.
 */
class UpstreamProbe extends PassThroughAttempt {
  private readonly attemptsBefore: number;
  private settled = false;

  constructor(
    private readonly breaker: CircuitBreaker,
    private readonly call: ProxyCall,
    handler: AttemptHandler,
  ) {
    super(handler);
    this.attemptsBefore = call.attempts;
  }

  start(next: Dispatcher): this {
    this.inner = next.dispatch(this.call, this);
    return this;
  }

  override cancel(reason: CancelReason): void {
    this.releaseUnused();
    this.inner.cancel(reason);
  }

  override onError(reason: AttemptReason, message: string): void {
    this.releaseUnused();
    this.handler.onError(reason, message);
  }

  private releaseUnused(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.call.attempts === this.attemptsBefore) this.breaker.releaseProbe();
  }
}
