// What is always safe to send again goes once more, whatever the retry policy, as grpc-js and
// Envoy do: an attempt the endpoint refused (REFUSED_STREAM, or a stream above a GOAWAY's
// last stream id) or whose connection failed before the request was written never reached the
// application. The client never sees the first attempt; a metric counts the second.

import { PassThroughAttempt, type Attempt, type AttemptHandler, type CancelReason, type Dispatcher, type Step } from '../proxy/call/attempt.ts';
import { neverProcessed, type AttemptReason } from '../proxy/call/outcome.ts';
import type { ProxyCall } from '../proxy/call/proxy-call.ts';

export const transparentRetry: Step = (next) => new TransparentRetryDispatcher(next);

class TransparentRetryDispatcher implements Dispatcher {
  constructor(private readonly next: Dispatcher) {}

  dispatch(call: ProxyCall, handler: AttemptHandler): Attempt {
    return new TransparentRetryAttempt(this.next, call, handler).start();
  }
}

class TransparentRetryAttempt extends PassThroughAttempt {
  private retried = false;
  private cancelled = false;
  /** Counts dispatches, so an attempt that failed (and was retried) inside dispatch is not taken for the current one. */
  private dispatches = 0;

  constructor(
    private readonly next: Dispatcher,
    private readonly call: ProxyCall,
    handler: AttemptHandler,
  ) {
    super(handler);
  }

  start(): this {
    const dispatch = ++this.dispatches;
    const attempt = this.next.dispatch(this.call, this);
    if (dispatch === this.dispatches) this.inner = attempt;
    return this;
  }

  override cancel(reason: CancelReason): void {
    this.cancelled = true;
    this.inner.cancel(reason);
  }

  override onError(reason: AttemptReason, message: string): void {
    if (!this.retried && !this.cancelled && neverProcessed(reason) && this.call.replayable && this.hasSomewhereToGo(reason)) {
      this.retried = true;
      this.call.upstream.metrics.transparentRetry(reason);
      this.start();
      return;
    }
    this.handler.onError(reason, message);
  }

  /**
   * A refused stream goes out again on a fresh stream, on the same endpoint if need be; after a
   * failed connect or a full queue the same endpoint would only fail again, later.
   */
  private hasSomewhereToGo(reason: AttemptReason): boolean {
    return SAME_ENDPOINT_WILL_DO.has(reason) || this.call.upstream.endpointCount > 1;
  }
}

const SAME_ENDPOINT_WILL_DO = new Set<AttemptReason>(['refused_stream', 'goaway']);
