// The step in front of a local application: an inbound service admits at most
// `services[].limits.maxConcurrent` calls at once and sheds the rest at once with 503
// MESHLET_OVERLOADED (gRPC RESOURCE_EXHAUSTED), so an overloaded service answers callers
// early instead of queueing without bound; adaptive limits and load shedding go here next.

import type { OutgoingHttpHeaders } from 'node:http';
import type { InternalErrorSite } from '../../observability/metrics.ts';
import { NO_ATTEMPT, PassThroughAttempt, type Attempt, type AttemptHandler, type CancelReason, type Dispatcher } from '../call/attempt.ts';
import type { AttemptReason } from '../call/outcome.ts';
import type { ProxyCall } from '../call/proxy-call.ts';

export class InboundAdmission implements Dispatcher {
  private active = 0;
  private limit: number;

  constructor(
    private readonly next: Dispatcher,
    limit: number,
    /** Counts a shed call, pre-bound to the service's listener. */
    private readonly shed: () => void,
  ) {
    this.limit = limit;
  }

  /** A reload's new limit; calls admitted under the old one finish as they are. */
  setLimit(limit: number): void {
    this.limit = limit;
  }

  get inFlight(): number {
    return this.active;
  }

  dispatch(call: ProxyCall, handler: AttemptHandler): Attempt {
    if (this.active >= this.limit) {
      this.shed();
      handler.onError('shed', `${this.limit} calls to the local application are in flight, the most services[].limits.maxConcurrent allows`);
      return NO_ATTEMPT;
    }
    this.active++;
    return new AdmittedCall(this.next, call, handler, this).start();
  }

  readonly release = (): void => {
    this.active--;
  };
}

/** Holds one admission until the call's attempts are over, however they end. */
class AdmittedCall extends PassThroughAttempt {
  private admitted = true;

  constructor(
    private readonly next: Dispatcher,
    private readonly call: ProxyCall,
    handler: AttemptHandler,
    private readonly admission: InboundAdmission,
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
    this.admission.release();
  }
}
