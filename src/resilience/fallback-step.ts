// policy.fallback: when a call is about to fail (its attempts are used up, no endpoint can take
// it, a breaker is open, the queue is full) the client gets a deliberate answer instead of the
// agent's error: the last good response to the same GET (stale-if-error), else the configured
// static response or gRPC status. Either is marked x-meshlet-fallback and goes up through the
// call's commit path like any response, so metrics and the access log see it.
//
// What falls back is the failure of the call, not the application's answer (Hystrix and
// resilience4j fall back on exceptions, timeouts and short circuits, not on a response): an
// upstream's 5xx is relayed as it came, since the application chose it and its body may say
// more than any fallback could, and the retry step has already had its say over it. Nor do a
// cancel (nobody is there to answer), a request the agent refused as malformed (the 400 is the
// answer) or a shed (an inbound concern) fall back. Once a response was committed to the client
// nothing can replace it: a break after that resets the client as before. The call's own
// deadline answers 504 itself and is not a fallback's to take; a per-try timeout that ends the
// last attempt is.
//
// This step also keeps the good answers stale-if-error needs: a 200 to a GET, when its head
// allows it, is copied chunk by chunk up to the per-entry cap while it streams to the client.

import type { OutgoingHttpHeaders } from 'node:http';
import { PassThroughAttempt, type Attempt, type AttemptHandler, type CancelReason, type Dispatcher, type Step } from '../proxy/call/attempt.ts';
import { errorCodeFor, type AttemptReason } from '../proxy/call/outcome.ts';
import type { ProxyCall } from '../proxy/call/proxy-call.ts';
import type { ProxyErrorCode } from '../proxy/errors.ts';
import { FALLBACK_HEADER, type FallbackPlan } from './fallback-plan.ts';
import type { StaleCache, StaleEntry } from './stale-cache.ts';
import { ageOf, keepable, keptHeaders, staleKeyOf } from './stale-capture.ts';

export const fallback: Step = (next) => new FallbackDispatcher(next);

/** Reasons a fallback does not answer for; every other one (circuit_open included) it does. */
const NO_FALLBACK = new Set<AttemptReason>(['cancelled', 'bad_request']);

class FallbackDispatcher implements Dispatcher {
  constructor(private readonly next: Dispatcher) {}

  dispatch(call: ProxyCall, handler: AttemptHandler): Attempt {
    const plan = call.upstream.settings.fallback;
    // Without a fallback the step is not there at all.
    if (plan === undefined) return this.next.dispatch(call, handler);
    return new FallbackAttempt(call, handler, plan).start(this.next);
  }
}

class FallbackAttempt extends PassThroughAttempt {
  private committed = false;
  private cancelled = false;
  private readonly staleKey: string | undefined;
  /** Set while a good answer is being copied for the stale cache. */
  private captured: Buffer[] | undefined;
  private capturedBytes = 0;
  private capturedHeaders: OutgoingHttpHeaders | undefined;
  private capturedAge = 0;

  constructor(
    private readonly call: ProxyCall,
    handler: AttemptHandler,
    private readonly plan: FallbackPlan,
  ) {
    super(handler);
    this.staleKey = plan.stale === undefined ? undefined : staleKeyOf(call.request);
  }

  start(next: Dispatcher): this {
    this.inner = next.dispatch(this.call, this);
    return this;
  }

  override cancel(reason: CancelReason): void {
    this.cancelled = true;
    this.inner.cancel(reason);
  }

  override onResponseStart(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean {
    const key = this.staleKey;
    if (key !== undefined && status === 200) this.beginCapture(key, headers);
    if (!this.handler.onResponseStart(status, headers, endStream, expectTrailers)) {
      this.captured = undefined;
      return false;
    }
    this.committed = true;
    return true;
  }

  override onData(chunk: Buffer): boolean {
    const captured = this.captured;
    if (captured !== undefined) {
      this.capturedBytes += chunk.length;
      // Past the cap the copy stops for good: what streams on is not kept.
      if (this.capturedBytes > this.plan.stale!.limits.maxEntryBytes) this.captured = undefined;
      else captured.push(Buffer.from(chunk));
    }
    return this.handler.onData(chunk);
  }

  override onEnd(trailers: OutgoingHttpHeaders | undefined): void {
    const captured = this.captured;
    if (captured !== undefined && (trailers === undefined || Object.keys(trailers).length === 0)) {
      this.captured = undefined;
      const body = captured.length === 1 ? captured[0]! : Buffer.concat(captured, this.capturedBytes);
      this.plan.stale!.store(this.staleKey!, this.capturedHeaders!, body, this.capturedAge);
    }
    this.handler.onEnd(trailers);
  }

  override onError(reason: AttemptReason, message: string): void {
    this.captured = undefined;
    if (this.committed || this.cancelled || NO_FALLBACK.has(reason) || !this.answer(errorCodeFor(reason)!, message)) this.handler.onError(reason, message);
  }

  private beginCapture(key: string, headers: OutgoingHttpHeaders): void {
    const stale = this.plan.stale!;
    if (!stale.wants(key) || !keepable(headers, stale.limits.maxEntryBytes)) return;
    // Copied before the sink sees them: sinks write into the object they are given.
    this.capturedHeaders = keptHeaders(headers);
    this.capturedAge = ageOf(headers);
    this.captured = [];
    this.capturedBytes = 0;
  }

  /** Answers with a kept or the static response; false when there is none for this call. */
  private answer(cause: ProxyErrorCode, message: string): boolean {
    const key = this.staleKey;
    const entry = key === undefined ? undefined : this.plan.stale!.take(key);
    if (entry !== undefined) {
      this.record('stale', cause, message);
      this.call.fallingBack('stale', cause, undefined);
      this.send(200, staleHeaders(entry, this.plan.stale!), entry.body);
      return true;
    }
    const response = this.plan.staticResponse;
    if (response === undefined || response.grpc !== this.call.request.grpc) return false;
    this.record('static', cause, message);
    this.call.fallingBack('static', cause, response.grpcStatus);
    this.send(response.status, { ...response.headers }, response.body);
    return true;
  }

  private record(kind: 'static' | 'stale', cause: ProxyErrorCode, message: string): void {
    const upstream = this.call.upstream;
    upstream.metrics.fallbackServed(kind, cause);
    this.plan.served(kind, cause, message);
    upstream.fallbackDecisions.hit(this.plan.reason);
  }

  private send(status: number, headers: OutgoingHttpHeaders, body: Buffer | undefined): void {
    const handler = this.handler;
    // Refused (headers the client's protocol cannot carry), the call has failed it already.
    if (!handler.onResponseStart(status, headers, body === undefined, false)) return;
    if (body !== undefined) handler.onData(body);
    handler.onEnd(undefined);
  }
}

function staleHeaders(entry: StaleEntry, stale: StaleCache): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ...entry.headers };
  headers['content-length'] = String(entry.body.length);
  headers['age'] = String(entry.ageAtStore + stale.ageSeconds(entry));
  headers[FALLBACK_HEADER] = 'stale';
  return headers;
}
