// policy.hedge: while a call's attempt is out longer than the hedge delay (fixed, or the p95 of
// the upstream's recent latencies), another goes to another endpoint, reading the call's body
// with a reader of its own; the first good response head wins and is committed, the others
// are cancelled as 'superseded' (which feeds no latency, blames no endpoint and lets an
// HTTP/1.1 loser finish unseen so its connection stays). Only for
// idempotent requests and gRPC calls; each hedge spends the shared retry budget. Placed after
// the retry step: a hedged call whose attempts all fail may still be retried as a whole.

import type { OutgoingHttpHeaders } from 'node:http';
import type { Clock, TimerHandle } from '../clock.ts';
import { IDEMPOTENT_METHODS } from '../config/defaults.ts';
import type { InternalErrorSite } from '../observability/metrics.ts';
import { NO_ATTEMPT, type Attempt, type AttemptHandler, type CancelReason, type Dispatcher, type Step } from '../proxy/call/attempt.ts';
import { isFailure, type AttemptReason } from '../proxy/call/outcome.ts';
import type { ProxyCall } from '../proxy/call/proxy-call.ts';
import type { HedgeRules } from './retry-rules.ts';

const P95 = 0.95;
const HEDGED_METHODS = new Set(IDEMPOTENT_METHODS);

export function hedgeStep(clock: Clock): Step {
  return (next) => new HedgeDispatcher(next, clock);
}

class HedgeDispatcher implements Dispatcher {
  constructor(
    readonly next: Dispatcher,
    readonly clock: Clock,
  ) {}

  dispatch(call: ProxyCall, handler: AttemptHandler): Attempt {
    const rules = call.upstream.settings.hedge;
    if (rules === undefined || (!call.request.grpc && !HEDGED_METHODS.has(call.request.method))) return this.next.dispatch(call, handler);
    if (rules.countsCalls) call.upstream.extraAttempts.callStarted(rules.budget);
    const delay = rules.delayMs ?? call.upstream.latency.quantile(P95);
    // No delay yet (too few latencies seen for a p95): the call goes unhedged.
    if (delay === undefined) return this.next.dispatch(call, handler);
    return new HedgedCall(this, call, handler, rules, delay).start();
  }
}

/** One attempt of a hedged call, and the handler its attempt reports to. */
class Branch implements AttemptHandler {
  attempt: Attempt = NO_ATTEMPT;
  live = true;

  constructor(private readonly owner: HedgedCall) {}

  onResponseStart(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean {
    return this.owner.head(this, status, headers, endStream, expectTrailers);
  }

  onData(chunk: Buffer): boolean {
    return this.owner.data(chunk);
  }

  onEnd(trailers: OutgoingHttpHeaders | undefined): void {
    this.owner.end(trailers);
  }

  onError(reason: AttemptReason, message: string): void {
    this.owner.error(this, reason, message);
  }

  onInternalError(site: InternalErrorSite, err: unknown): void {
    this.owner.internalError(site, err);
  }
}

class HedgedCall implements Attempt {
  private readonly branches: Branch[] = [];
  private winner: Branch | undefined;
  private done = false;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly dispatcher: HedgeDispatcher,
    private readonly call: ProxyCall,
    private readonly handler: AttemptHandler,
    private readonly rules: HedgeRules,
    private readonly delayMs: number,
  ) {}

  start(): this {
    this.launch();
    return this;
  }

  cancel(reason: CancelReason): void {
    this.done = true;
    this.stopTimer();
    for (const branch of this.branches) this.drop(branch, reason);
  }

  resume(): void {
    this.winner?.attempt.resume();
  }

  head(branch: Branch, status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean {
    if (this.done || this.winner !== undefined || !branch.live) return false;
    const grpcStatus = endStream && headers['grpc-status'] !== undefined ? Number(headers['grpc-status']) : undefined;
    // A failing head loses to any attempt still out, which may yet answer well; the last one
    // out is passed up as it is, for the retry step to judge.
    if (isFailure(status, grpcStatus, undefined) && this.othersLive(branch)) {
      branch.live = false;
      return false;
    }
    this.winner = branch;
    this.stopTimer();
    for (const other of this.branches) if (other !== branch) this.drop(other, 'superseded');
    const committed = this.handler.onResponseStart(status, headers, endStream, expectTrailers);
    // Discarded above (the retry step retries the call): this hedged call is over.
    if (!committed) this.done = true;
    return committed;
  }

  data(chunk: Buffer): boolean {
    return this.handler.onData(chunk);
  }

  end(trailers: OutgoingHttpHeaders | undefined): void {
    this.done = true;
    this.handler.onEnd(trailers);
  }

  error(branch: Branch, reason: AttemptReason, message: string): void {
    if (this.done || !branch.live) return;
    branch.live = false;
    if (this.winner === undefined && this.othersLive(branch)) return;
    this.done = true;
    this.stopTimer();
    this.handler.onError(reason, message);
  }

  internalError(site: InternalErrorSite, err: unknown): void {
    this.handler.onInternalError(site, err);
  }

  /** One callback for every call's hedge timer (bench/README.md, "Timers on the request path"). */
  private static readonly due = (hedge: HedgedCall): void => hedge.hedgeDue();

  private hedgeDue(): void {
    this.timer = undefined;
    if (this.done || this.winner !== undefined || !this.call.replayable) return;
    const upstream = this.call.upstream;
    if (!upstream.extraAttempts.admit('hedge', this.rules.budget)) return;
    upstream.metrics.hedged();
    this.launch();
  }

  private launch(): void {
    const branch = new Branch(this);
    this.branches.push(branch);
    const attempt = this.dispatcher.next.dispatch(this.call, branch);
    if (branch.live) branch.attempt = attempt;
    if (!this.done && this.winner === undefined && this.branches.length < this.rules.maxAttempts) this.timer = this.dispatcher.clock.setTimeout(HedgedCall.due, this.delayMs, this);
  }

  private othersLive(branch: Branch): boolean {
    for (const other of this.branches) if (other !== branch && other.live) return true;
    return false;
  }

  private drop(branch: Branch, reason: CancelReason): void {
    if (!branch.live) return;
    branch.live = false;
    branch.attempt.cancel(reason);
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    this.dispatcher.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
