// One client request on its way through the agent: pick an endpoint, forward, classify the
// outcome, and feed it to the picker, the metrics and the access log exactly once.

import type { Clock, TimerHandle } from '../../clock.ts';
import type { InternalErrors } from '../../observability/internal-errors.ts';
import type { AccessLog } from '../../observability/logger.ts';
import type { InternalErrorSite } from '../../observability/metrics.ts';
import { ProxyError, type ProxyErrorCode } from '../errors.ts';
import type { Attempt } from '../forward/forwarder.ts';
import type { OutgoingHttpHeaders } from 'node:http';
import type { ProxiedRequest } from './proxied-request.ts';
import type { ResponseEnding, ResponseSink } from './response-sink.ts';
import type { EndpointRuntime, UpstreamRuntime } from '../upstream/upstream.ts';

/** Status recorded when the client went away before the response ended (as nginx logs it). */
const CLIENT_CLOSED = 499;

export interface CallEnvironment {
  readonly clock: Clock;
  readonly accessLog: AccessLog | undefined;
  readonly internalErrors: InternalErrors;
}

/** The final statuses a client can be given; anything else from an upstream is not HTTP. */
function isFinalStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 200 && status <= 599;
}

export class ProxyCall implements ResponseEnding {
  attempt: Attempt | undefined;
  private endpoint: EndpointRuntime | undefined;
  private readonly startedAt: number;
  private timer: TimerHandle | undefined;
  private done = false;
  /** The status (and gRPC status) to record once the sink has sent the response's end. */
  private endStatus = 0;
  private endGrpcStatus: number | undefined;

  constructor(
    readonly upstream: UpstreamRuntime,
    readonly request: ProxiedRequest,
    readonly sink: ResponseSink,
    private readonly env: CallEnvironment,
  ) {
    this.startedAt = env.clock.now();
  }

  run(): void {
    try {
      this.pickAndForward();
    } catch (err) {
      this.internalError('proxy_call', err);
    }
  }

  private pickAndForward(): void {
    const upstream = this.upstream;
    upstream.metrics.requestStarted();
    const picked = upstream.picker.pick({ hashKey: upstream.hashKeyOf(this.request) });
    const endpoint = picked && upstream.endpoints.get(picked);
    if (!endpoint) {
      this.fail('MESHLET_NO_HEALTHY_ENDPOINT', 'no healthy endpoint');
      return;
    }
    this.endpoint = endpoint;
    upstream.picker.onStart(endpoint.endpoint);
    endpoint.metrics.started();
    if (upstream.timeoutMs > 0) this.timer = this.env.clock.setTimeout(this.onTimeout, upstream.timeoutMs);
    endpoint.forwarder.forward(this);
  }

  /** True once the outcome is recorded; forwarders stop touching the sink then. */
  get settled(): boolean {
    return this.done;
  }

  /**
   * The upstream's response head. A status no client may be given, or headers the client's
   * protocol cannot carry, fail the call with MESHLET_BAD_UPSTREAM_RESPONSE instead; the
   * result says whether the response is on its way.
   */
  startResponse(status: number, headers: OutgoingHttpHeaders, endStream: boolean, expectTrailers: boolean): boolean {
    if (!isFinalStatus(status)) {
      this.fail('MESHLET_BAD_UPSTREAM_RESPONSE', `status ${status} is not a final HTTP status (200-599)`);
      return false;
    }
    if (!this.sink.start(status, headers, endStream, expectTrailers)) {
      this.fail('MESHLET_BAD_UPSTREAM_RESPONSE', `response headers the client's protocol cannot carry`);
      return false;
    }
    return true;
  }

  /**
   * The upstream's response body ended, with these trailers. The call completes once the sink
   * has sent them; trailers the client's protocol cannot carry fail it (the client is reset).
   */
  endResponse(trailers: OutgoingHttpHeaders | undefined, status: number, grpcStatus: number | undefined): void {
    if (this.done) return;
    this.endStatus = status;
    this.endGrpcStatus = grpcStatus;
    this.sink.finish(trailers, this);
  }

  responseSent(): void {
    this.complete(this.endStatus, this.endGrpcStatus);
  }

  trailersRefused(): void {
    this.fail('MESHLET_BAD_UPSTREAM_RESPONSE', `response trailers the client's protocol cannot carry`);
  }

  /** The upstream's response ended normally. */
  complete(status: number, grpcStatus: number | undefined): void {
    if (this.done) return;
    this.done = true;
    this.settle(status, grpcStatus, undefined);
  }

  /** The attempt failed: answer the client with a typed error, or reset it if the response had begun. */
  fail(code: ProxyErrorCode, detail: string): void {
    if (this.done) return;
    this.done = true;
    const error = new ProxyError(code, this.endpoint ? `${detail} (endpoint ${this.endpoint.endpoint.address})` : detail);
    try {
      this.attempt?.cancel();
      this.sink.fail(error, this.upstream.name);
    } finally {
      // Recorded even when answering threw, so in-flight counts and the drain never leak.
      this.settle(error.httpStatus, this.request.grpc ? error.grpcStatus : undefined, code);
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
      this.attempt?.cancel();
    } finally {
      this.sink.reset();
    }
  }

  /** Bound once per call: the client's response stream closed or was reset. */
  readonly onClientClose = (): void => {
    if (this.done) return;
    this.done = true;
    try {
      try {
        this.attempt?.cancel();
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

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    try {
      this.fail('MESHLET_UPSTREAM_TIMEOUT', `no complete response within ${this.upstream.timeoutMs}ms`);
    } catch (err) {
      this.internalError('proxy_call', err);
    }
  };

  /** Runs once per call; callers set `done` first so re-entrant outcomes are ignored. */
  private settle(status: number, grpcStatus: number | undefined, errorCode: ProxyErrorCode | undefined): void {
    if (this.timer !== undefined) this.env.clock.clearTimeout(this.timer);
    const upstream = this.upstream;
    const elapsedMs = this.env.clock.now() - this.startedAt;
    const endpoint = this.endpoint;
    if (endpoint) {
      const failed = errorCode !== undefined || status >= 500;
      upstream.picker.onEnd(endpoint.endpoint, elapsedMs, failed);
      endpoint.metrics.finished(this.request.grpc ? 'grpc' : upstream.wireProtocol, status, elapsedMs / 1000, grpcStatus);
    }
    if (errorCode) upstream.metrics.error(errorCode);
    upstream.metrics.requestFinished();
    this.env.accessLog?.record({
      upstream: upstream.name,
      endpoint: endpoint ? endpoint.endpoint.address : null,
      method: this.request.method,
      path: this.request.path,
      status,
      durationMs: Math.round(elapsedMs * 1000) / 1000,
      bytes: this.sink.bytesSent,
      protocol: this.request.grpc ? 'grpc' : upstream.wireProtocol,
      ...(errorCode ? { error: errorCode } : {}),
    });
  }
}
