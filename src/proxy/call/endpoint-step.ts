// The innermost step: pick an endpoint, send the attempt through its forwarder, and classify
// how the attempt ended, once, into the Outcome every observer reads (the picker's load and
// latency, the endpoint's metrics, the call's log line; next, breakers and outlier detection).

import type { OutgoingHttpHeaders } from 'node:http';
import type { Clock } from '../../clock.ts';
import type { InternalErrorSite } from '../../observability/metrics.ts';
import { errorShape } from '../errors.ts';
import type { EndpointState } from '../upstream/endpoint-state.ts';
import { PROBES_TAKEN, type PendingPick, type PickResult } from '../upstream/pick-result.ts';
import type { Upstream } from '../upstream/upstream.ts';
import type { EndpointTarget } from './call-target.ts';
import { NO_ATTEMPT, type Attempt, type AttemptHandler, type CancelReason, type Dispatcher } from './attempt.ts';
import { errorCodeFor, outcomeOf, type AttemptReason } from './outcome.ts';
import { CLIENT_CLOSED, type ProxyCall } from './proxy-call.ts';
import type { AttemptBody } from './replay-body.ts';

/** Picks tried to find an endpoint other than the one a call's previous attempt used. */
const REPICKS = 3;

/** Outbound, over an Upstream's picker; inbound, to a service's one local application. */
export class EndpointDispatcher<T extends EndpointTarget = Upstream> implements Dispatcher<T> {
  constructor(private readonly clock: Clock) {}

  dispatch(call: ProxyCall<T>, handler: AttemptHandler): Attempt {
    const result = this.pick(call);
    if (result.kind === 'picked') return new EndpointAttempt(call, result.endpoint, handler, this.clock).start();
    if (result.kind === 'fail') {
      handler.onError(result.reason, result.detail);
      return NO_ATTEMPT;
    }
    const queued = new QueuedAttempt<T>(this, call, handler);
    if (call.upstream.wait(queued)) return queued;
    handler.onError('upstream_overflow', call.upstream.settings.overflowDetail.maxPending);
    return NO_ATTEMPT;
  }

  /**
   * A call's second attempt goes elsewhere where the picker offers another endpoint (HAProxy's
   * redispatch), and an endpoint whose breaker is half-open takes only its probes: past them
   * another endpoint is picked, or the call fails fast.
   */
  private pick(call: ProxyCall<T>): PickResult {
    const upstream = call.upstream;
    const previous = call.endpoint;
    for (let i = 0; ; i++) {
      const result = upstream.pick(call.request);
      if (result.kind !== 'picked') return result;
      const last = i >= REPICKS;
      if (result.endpoint === previous && !last) continue;
      const breaker = result.endpoint.breaker;
      if (breaker === undefined || breaker.admit()) return result;
      if (last) return PROBES_TAKEN;
    }
  }
}

/**
 * A call waiting in its upstream's queue for a first endpoint; dispatched again when the next
 * snapshot is out. The call's deadline or its client's close cancels it, leaving the queue.
 */
class QueuedAttempt<T extends EndpointTarget> implements Attempt, PendingPick {
  private inner: Attempt = NO_ATTEMPT;
  private cancelled = false;

  constructor(
    private readonly dispatcher: EndpointDispatcher<T>,
    private readonly call: ProxyCall<T>,
    private readonly handler: AttemptHandler,
  ) {}

  retryPick(): void {
    if (!this.cancelled) this.inner = this.dispatcher.dispatch(this.call, this.handler);
  }

  cancel(reason: CancelReason): void {
    this.cancelled = true;
    this.call.upstream.stopWaiting(this);
    this.inner.cancel(reason);
  }

  resume(): void {
    this.inner.resume();
  }
}

function grpcStatusOf(headers: OutgoingHttpHeaders | undefined): number | undefined {
  const value = headers?.['grpc-status'];
  return value === undefined ? undefined : Number(value);
}

class EndpointAttempt<T extends EndpointTarget> implements Attempt, AttemptHandler {
  private inner: Attempt = NO_ATTEMPT;
  /** This attempt's reader of the call's body; a reader left alive would hold the body up for the others. */
  private body: AttemptBody | null = null;
  private readonly startedAt: number;
  private status = 0;
  private grpcStatus: number | undefined;
  private done = false;

  constructor(
    private readonly call: ProxyCall<T>,
    private readonly endpoint: EndpointState,
    private readonly handler: AttemptHandler,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock.now();
  }

  start(): this {
    const { call, endpoint } = this;
    // Read before attemptStarted counts this attempt: it says how many went before it.
    const request = call.attemptRequest();
    call.upstream.attemptStarted(endpoint);
    endpoint.metrics.started();
    call.attemptStarted(endpoint);
    this.body = call.attemptBody();
    this.inner = endpoint.forwarder.forward(request, this.body, this);
    return this;
  }

  cancel(reason: CancelReason): void {
    if (this.done) return;
    this.finish(reason === 'superseded' ? 'cancelled' : reason);
    this.inner.cancel(reason);
  }

  resume(): void {
    this.inner.resume();
  }

  onResponseStart(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean {
    if (this.done) return false;
    this.status = status;
    // A trailers-only response carries grpc-status in its head.
    this.grpcStatus = grpcStatusOf(headers);
    if (this.handler.onResponseStart(status, headers, endStream, expectTrailers)) return true;
    // Discarded above (a retry, or a head the client cannot take): judged by its status.
    if (!this.done) this.finish(undefined);
    return false;
  }

  onData(chunk: Buffer): boolean {
    return this.done || this.handler.onData(chunk);
  }

  onEnd(trailers: OutgoingHttpHeaders | undefined): void {
    if (this.done) return;
    this.grpcStatus = grpcStatusOf(trailers) ?? this.grpcStatus;
    this.finish(undefined);
    this.handler.onEnd(trailers);
  }

  onError(reason: AttemptReason, message: string): void {
    if (this.done) return;
    this.finish(reason);
    this.handler.onError(reason, message);
  }

  onInternalError(site: InternalErrorSite, err: unknown): void {
    // The agent's own fault, not the endpoint's; the attempt stops on the wire too.
    if (!this.done) {
      this.finish('cancelled');
      this.inner.cancel('cancelled');
    }
    this.handler.onInternalError(site, err);
  }

  private finish(reason: AttemptReason | undefined): void {
    this.done = true;
    this.body?.destroy();
    const { call, endpoint } = this;
    const latencyMs = this.clock.now() - this.startedAt;
    const outcome = outcomeOf(this.status, this.grpcStatus, reason, latencyMs);
    call.upstream.observe(endpoint, outcome);
    const grpc = call.request.grpc;
    const protocol = grpc ? 'grpc' : call.upstream.wireProtocol;
    const seconds = latencyMs / 1000;
    const code = reason === undefined ? undefined : errorCodeFor(reason);
    // An attempt that ended without the endpoint's answer is recorded as what its error answers.
    const shape = code === undefined ? undefined : errorShape(code);
    if (shape !== undefined) endpoint.metrics.finished(protocol, shape.httpStatus, seconds, grpc ? shape.grpcStatus : undefined, outcome.failed);
    else endpoint.metrics.finished(protocol, reason === 'cancelled' ? CLIENT_CLOSED : this.status, seconds, this.grpcStatus, outcome.failed);
    call.attemptEnded(outcome);
  }
}
