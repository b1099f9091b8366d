// One client request on its way through the agent. The call owns the client's side: the
// request, the response sink, the deadline, the one settle and the access-log line. Attempts
// run below it through the dispatcher chain (attempt.ts); the call is the handler at the top,
// the one that commits a response to the client.

import type { OutgoingHttpHeaders } from 'node:http';
import type { Clock, TimerHandle } from '../../clock.ts';
import type { InternalErrors } from '../../observability/internal-errors.ts';
import type { AccessLog } from '../../observability/logger.ts';
import type { InternalErrorSite } from '../../observability/metrics.ts';
import { ProxyError, type ProxyErrorCode } from '../errors.ts';
import { NO_ATTEMPT, type Attempt, type AttemptHandler, type CancelReason, type Dispatcher } from './attempt.ts';
import { errorCodeFor, type AttemptReason, type Outcome } from './outcome.ts';
import { formatGrpcTimeout, parseGrpcTimeout } from './grpc-timeout.ts';
import { headerValue, withHeaders, type ProxiedRequest } from './proxied-request.ts';
import { NO_BODY, replayBody, type AttemptBody, type ReplayBody } from './replay-body.ts';
import type { ReplayBufferTracker } from './replay-buffer-tracker.ts';
import type { ResponseEnding, ResponseSink } from './response-sink.ts';
import type { EndpointState } from '../upstream/endpoint-state.ts';
import type { Upstream } from '../upstream/upstream.ts';
import type { CallTarget } from './call-target.ts';

/** What a fallback answered with: the configured response, or a kept one (stale-if-error). */
export type FallbackKind = 'static' | 'stale';

/** Status recorded when the client went away before the response ended (as nginx logs it). */
export const CLIENT_CLOSED = 499;

export interface CallEnvironment<T extends CallTarget = Upstream> {
  readonly clock: Clock;
  readonly accessLog: AccessLog | undefined;
  readonly internalErrors: InternalErrors;
  /** The steps every call runs through, built once (attempt.ts composeSteps). */
  readonly dispatcher: Dispatcher<T>;
  /** What all calls' replay buffers hold together (listeners.maxReplayBuffered). */
  readonly replayBuffers: ReplayBufferTracker;
}

/** A call to `upstream`: an outbound Upstream, or an inbound service (call-target.ts). */
export class ProxyCall<T extends CallTarget = Upstream> implements AttemptHandler, ResponseEnding {
  private attempt: Attempt = NO_ATTEMPT;
  /** The endpoint of the latest attempt and how that attempt ended; attempts made so far. */
  endpoint: EndpointState | undefined;
  lastOutcome: Outcome | undefined;
  attempts = 0;
  /** The request body, held so that another attempt can send it again while it fits. */
  private readonly body: ReplayBody;
  private readonly startedAt: number;
  /** The call's deadline: policy.timeout, capped by an incoming grpc-timeout; 0 for none. */
  private readonly timeoutMs: number;
  /** The client sent grpc-timeout: each attempt is sent what is left of the deadline. */
  private readonly grpcDeadline: boolean;
  private timer: TimerHandle | undefined;
  private done = false;
  /** The response ended with its head: no body, no trailers to wait for. */
  private endedWithHead = false;
  /** The status to record once the sink has sent the response's end. */
  private status = 0;
  /** Set when the response is a fallback (fallback-step.ts), for the log line. */
  private fallback: FallbackKind | undefined;
  private fallbackCause: ProxyErrorCode | undefined;
  private fallbackGrpcStatus: number | undefined;

  constructor(
    readonly upstream: T,
    readonly request: ProxiedRequest,
    readonly sink: ResponseSink,
    private readonly env: CallEnvironment<T>,
  ) {
    this.startedAt = env.clock.now();
    const grpcTimeout = request.grpc ? parseGrpcTimeout(headerValue(request.headers, 'grpc-timeout')) : undefined;
    const policyTimeout = upstream.timeoutMs;
    this.grpcDeadline = grpcTimeout !== undefined;
    this.timeoutMs = grpcTimeout === undefined ? policyTimeout : policyTimeout > 0 ? Math.min(policyTimeout, grpcTimeout) : grpcTimeout;
    const source = request.body;
    this.body = source === null ? NO_BODY : replayBody(source, { perCall: upstream.settings.replayBufferLimit, shared: env.replayBuffers });
  }

  run(): void {
    try {
      this.upstream.metrics.requestStarted();
      if (this.timeoutMs > 0) this.timer = this.env.clock.setTimeout(ProxyCall.timedOut, this.timeoutMs, this);
      const attempt = this.env.dispatcher.dispatch(this, this);
      // An attempt that failed before dispatch returned has settled the call already.
      if (!this.done) this.attempt = attempt;
    } catch (err) {
      this.internalError('proxy_call', err);
    }
  }

  /** True once the outcome is recorded; nothing is written to the client after that. */
  get settled(): boolean {
    return this.done;
  }

  /** The body the next attempt sends, from its first byte: its own reader, which it destroys when it ends. */
  attemptBody(): AttemptBody | null {
    return this.body.reader();
  }

  /** Whether another attempt could send the whole request again: its body is still held whole. */
  get replayable(): boolean {
    return this.body.retryable;
  }

  /** Milliseconds left until the call's deadline; Infinity when it has none. */
  get remainingMs(): number {
    return this.timeoutMs > 0 ? this.startedAt + this.timeoutMs - this.env.clock.now() : Infinity;
  }

  /**
   * The request as the next attempt sends it. A gRPC call's attempt after the first says how
   * many went before (grpc-previous-rpc-attempts, gRFC A6), and one whose client set a
   * deadline is sent what is left of it; anything else goes as it came.
   */
  attemptRequest(): ProxiedRequest {
    const request = this.request;
    if (!request.grpc || (this.attempts === 0 && !this.grpcDeadline)) return request;
    const set: Record<string, string> = {};
    if (this.attempts > 0) set['grpc-previous-rpc-attempts'] = String(this.attempts);
    if (this.grpcDeadline) set['grpc-timeout'] = formatGrpcTimeout(this.remainingMs);
    return withHeaders(request, set);
  }

  /** The endpoint step reports each attempt's start and end here, for the log and the error text. */
  attemptStarted(endpoint: EndpointState): void {
    this.endpoint = endpoint;
    this.attempts++;
  }

  attemptEnded(outcome: Outcome): void {
    this.lastOutcome = outcome;
  }

  // The handler at the top of the chain: what reaches it is committed to the client.

  onResponseStart(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean {
    if (this.done) return false;
    if (!this.sink.start(status, headers, endStream, expectTrailers)) {
      this.fail('MESHLET_BAD_UPSTREAM_RESPONSE', `response headers the client's protocol cannot carry`);
      return false;
    }
    this.status = status;
    this.endedWithHead = endStream;
    // No attempt follows a committed response: what the body still holds is for this one alone.
    this.body.commit();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return true;
    const sink = this.sink;
    sink.bytesSent += chunk.length;
    const body = sink.body;
    if (body.write(chunk)) return true;
    // A client stream already closed never drains: the call settles on the client's close, and
    // an upstream kept paused for good would trip undici's assert(!this.paused) when it closes.
    if (body.destroyed || body.writableEnded) return true;
    body.once('drain', this.resumeAttempt);
    return false;
  }

  /** The response body ended, with these trailers; the call completes once the sink has sent them. */
  onEnd(trailers: OutgoingHttpHeaders | undefined): void {
    if (this.done) return;
    if (this.endedWithHead) this.responseSent();
    else this.sink.finish(trailers, this);
  }

  onError(reason: AttemptReason, message: string): void {
    this.fail(errorCodeFor(reason) ?? 'MESHLET_UPSTREAM_RESET', message);
  }

  /** An admission step turned the call away before any attempt, saying when to come back. */
  refuse(code: ProxyErrorCode, detail: string, retryAfterSeconds: number): void {
    this.fail(code, detail, 'cancelled', retryAfterSeconds);
  }

  /**
   * The fallback step answers in place of the error `cause`; the response it sends next goes
   * through the usual commit path, and the log line says it was a fallback.
   */
  fallingBack(kind: FallbackKind, cause: ProxyErrorCode, grpcStatus: number | undefined): void {
    this.fallback = kind;
    this.fallbackCause = cause;
    this.fallbackGrpcStatus = grpcStatus;
  }

  onInternalError(site: InternalErrorSite, err: unknown): void {
    this.internalError(site, err);
  }

  responseSent(): void {
    if (this.done) return;
    this.done = true;
    this.settle(this.status, undefined, this.fallback !== undefined ? this.fallbackGrpcStatus : this.lastOutcome?.grpcStatus);
  }

  trailersRefused(): void {
    this.fail('MESHLET_BAD_UPSTREAM_RESPONSE', `response trailers the client's protocol cannot carry`);
  }

  /** The call failed: answer the client with a typed error, or reset it if the response had begun. */
  fail(code: ProxyErrorCode, detail: string, cancelAs: CancelReason = 'cancelled', retryAfterSeconds?: number): void {
    if (this.done) return;
    this.done = true;
    const error = new ProxyError(code, this.endpoint ? `${detail} (endpoint ${this.endpoint.address})` : detail, undefined, retryAfterSeconds);
    try {
      this.attempt.cancel(cancelAs);
      this.sink.fail(error, this.upstream.name);
    } finally {
      // Recorded even when answering threw, so in-flight counts and the drain never leak.
      this.settle(error.httpStatus, code, this.request.grpc ? error.grpcStatus : undefined);
    }
  }

  /**
   * The last line of defence, for the places node:http, node:http2 and undici call into the
   * agent for this call: an exception that escaped the agent's own handling fails this call
   * (502, or a reset once the response began) and is counted, never thrown into the emitter.
   */
  internalError(site: InternalErrorSite, err: unknown): void {
    this.env.internalErrors.report(site, err);
    try {
      if (!this.done) {
        this.fail('MESHLET_BAD_UPSTREAM_RESPONSE', 'internal error');
        return;
      }
    } catch {
      // Failing cleanly failed too: what is left is to cut both sides off, below.
    }
    try {
      this.attempt.cancel('cancelled');
    } finally {
      this.sink.reset();
    }
  }

  private readonly resumeAttempt = (): void => {
    this.attempt.resume();
  };

  /** Bound once per call: the client's response stream closed or was reset. */
  readonly onClientClose = (): void => {
    if (this.done) return;
    this.done = true;
    try {
      try {
        this.attempt.cancel('cancelled');
        // Release the client's side too: an HTTP/2 stream reset with NO_ERROR while our writes
        // wait on flow control would otherwise never emit 'close' and stay in its session.
        this.sink.reset();
      } finally {
        this.settle(CLIENT_CLOSED, undefined, undefined);
      }
    } catch (err) {
      this.internalError('proxy_call', err);
    }
  };

  /** One callback for every call's deadline timer (bench/README.md, "Timers on the request path"). */
  private static readonly timedOut = (call: ProxyCall<CallTarget>): void => call.onTimeout();

  private onTimeout(): void {
    this.timer = undefined;
    try {
      this.fail('MESHLET_UPSTREAM_TIMEOUT', `no complete response within ${this.timeoutMs}ms`, 'timeout');
    } catch (err) {
      this.internalError('proxy_call', err);
    }
  }

  /**
   * Runs once per call; callers set `done` first so re-entrant outcomes are ignored. `status`
   * and `grpcStatus` are what the client was given.
   */
  private settle(status: number, errorCode: ProxyErrorCode | undefined, grpcStatus: number | undefined): void {
    if (this.timer !== undefined) this.env.clock.clearTimeout(this.timer);
    this.body.release();
    // What the client still sends is read and dropped, as node:http does itself with a body
    // nobody read: a keep-alive connection must get past it to its next request.
    const source = this.request.body;
    if (source && !source.readableEnded && !source.destroyed) source.resume();
    const upstream = this.upstream;
    if (errorCode) upstream.metrics.error(errorCode);
    upstream.metrics.requestFinished();
    const accessLog = this.env.accessLog;
    if (!accessLog) return;
    const elapsedMs = this.env.clock.now() - this.startedAt;
    accessLog.record({
      upstream: upstream.name,
      direction: upstream.direction,
      endpoint: this.endpoint ? this.endpoint.address : null,
      method: this.request.method,
      path: this.request.path,
      status,
      ...(grpcStatus !== undefined ? { grpc_status: grpcStatus } : {}),
      attempts: this.attempts,
      durationMs: Math.round(elapsedMs * 1000) / 1000,
      bytes: this.sink.bytesSent,
      protocol: this.request.grpc ? 'grpc' : upstream.wireProtocol,
      ...(errorCode ? { error: errorCode } : {}),
      ...(this.fallback !== undefined ? { fallback: this.fallback, fallback_cause: this.fallbackCause } : {}),
    });
  }
}
