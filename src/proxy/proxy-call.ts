// One client request on its way through the agent: pick an endpoint, forward, classify the
// outcome, and feed it to the picker, the metrics and the access log exactly once.

import type { Clock, TimerHandle } from '../clock.ts';
import type { AccessLog } from '../observability/logger.ts';
import { ProxyError, type ProxyErrorCode } from './errors.ts';
import type { Attempt } from './forwarder.ts';
import type { InFlightCounter } from './in-flight.ts';
import type { ProxiedRequest } from './proxied-request.ts';
import type { ResponseSink } from './response-sink.ts';
import type { EndpointRuntime, UpstreamRuntime } from './upstream.ts';

/** Status recorded when the client went away before the response ended (as nginx logs it). */
const CLIENT_CLOSED = 499;

export interface CallEnvironment {
  readonly clock: Clock;
  readonly accessLog: AccessLog | undefined;
  readonly inFlight: InFlightCounter;
}

export class ProxyCall {
  attempt: Attempt | undefined;
  private endpoint: EndpointRuntime | undefined;
  private readonly startedAt: number;
  private timer: TimerHandle | undefined;
  private done = false;

  constructor(
    readonly upstream: UpstreamRuntime,
    readonly request: ProxiedRequest,
    readonly sink: ResponseSink,
    private readonly env: CallEnvironment,
  ) {
    this.startedAt = env.clock.now();
  }

  run(): void {
    const upstream = this.upstream;
    this.env.inFlight.started();
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
    this.attempt?.cancel();
    this.sink.fail(error, this.upstream.name);
    this.settle(error.httpStatus, this.request.grpc ? error.grpcStatus : undefined, code);
  }

  /** Bound once per call: the client's response stream closed or was reset. */
  readonly onClientClose = (): void => {
    if (this.done) return;
    this.done = true;
    this.attempt?.cancel();
    // Release the client's side too: an HTTP/2 stream reset with NO_ERROR while our writes
    // wait on flow control would otherwise never emit 'close' and stay in its session.
    this.sink.reset();
    this.settle(CLIENT_CLOSED, undefined, undefined);
  };

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    this.fail('MESHLET_UPSTREAM_TIMEOUT', `no complete response within ${this.upstream.timeoutMs}ms`);
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
    this.env.inFlight.finished();
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
