// The seam between a call and its attempts, after undici's dispatch handler: a forwarder takes
// a request and a handler and returns a cancellable attempt; it never touches the client's
// response. The handler sees the response head first and commits to it or discards it, which
// is what lets a retry, a hedge or a fallback step in before anything reaches the client
// (undici's RetryHandler withholds the same way, grpc-js's retrying call commits the same way).
// Steps compose as `(next) => dispatcher`, each in a file of its own, built once.

import type { OutgoingHttpHeaders } from 'node:http';
import type { InternalErrorSite } from '../../observability/metrics.ts';
import type { Upstream } from '../upstream/upstream.ts';
import type { CallTarget } from './call-target.ts';
import type { AttemptReason } from './outcome.ts';
import type { ProxyCall } from './proxy-call.ts';

export interface AttemptHandler {
  /**
   * The final response head (interim 1xx are skipped below). True commits: the body follows.
   * False discards the response: the attempt is dropped and the handler hears nothing more.
   * A response that ends with its head (`endStream`) still gets onEnd.
   */
  onResponseStart(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean;
  /** False asks the attempt to stop reading until resume(). */
  onData(chunk: Buffer): boolean;
  /** The response ended whole. */
  onEnd(trailers: OutgoingHttpHeaders | undefined): void;
  /** The attempt ended without a whole response; never after cancel(). */
  onError(reason: AttemptReason, message: string): void;
  /**
   * An exception of the agent's own escaped into a callback of node:http2 or undici while it
   * served this attempt (`site` names where): the call fails and counts it; steps pass it up.
   */
  onInternalError(site: InternalErrorSite, err: unknown): void;
}

/**
 * Why the call ended an attempt itself; its outcome records it ('superseded' as 'cancelled').
 * 'superseded': another attempt of the same call won (hedging), so this one's answer is not
 * wanted but its request was sound; a forwarder may let it finish unseen to keep its
 * connection, since HTTP/1.1 cannot stop one request without closing the connection.
 */
export type CancelReason = 'cancelled' | 'timeout' | 'superseded';

export interface Attempt {
  /** Ends the attempt on the wire; its handler hears nothing more. Idempotent. */
  cancel(reason: CancelReason): void;
  /** Reads on after onData returned false. */
  resume(): void;
}

/** Outbound steps dispatch calls to an Upstream; an inbound service's admission to its local application. */
export interface Dispatcher<T extends CallTarget = Upstream> {
  /** Starts an attempt (or several, one after the other) for `call`. May call `handler` before it returns. */
  dispatch(call: ProxyCall<T>, handler: AttemptHandler): Attempt;
}

/** One cross-cutting step around the dispatcher after it. */
export type Step = (next: Dispatcher) => Dispatcher;

/** The attempt of a call that never got one (no endpoint, say): nothing to cancel or resume. */
export const NO_ATTEMPT: Attempt = { cancel: () => undefined, resume: () => undefined };

/**
 * A step's object for one call: it passes everything through, between the handler above and
 * the attempt below it; a step overrides what it acts on.
 */
export abstract class PassThroughAttempt implements Attempt, AttemptHandler {
  protected inner: Attempt = NO_ATTEMPT;

  constructor(protected readonly handler: AttemptHandler) {}

  cancel(reason: CancelReason): void {
    this.inner.cancel(reason);
  }

  resume(): void {
    this.inner.resume();
  }

  onResponseStart(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean {
    return this.handler.onResponseStart(status, headers, endStream, expectTrailers);
  }

  onData(chunk: Buffer): boolean {
    return this.handler.onData(chunk);
  }

  onEnd(trailers: OutgoingHttpHeaders | undefined): void {
    this.handler.onEnd(trailers);
  }

  onError(reason: AttemptReason, message: string): void {
    this.handler.onError(reason, message);
  }

  onInternalError(site: InternalErrorSite, err: unknown): void {
    this.handler.onInternalError(site, err);
  }
}

/** Steps in the order a call meets them, the last one wrapping `innermost`. */
export function composeSteps(steps: readonly Step[], innermost: Dispatcher): Dispatcher {
  let dispatcher = innermost;
  for (let i = steps.length - 1; i >= 0; i--) dispatcher = steps[i]!(dispatcher);
  return dispatcher;
}
