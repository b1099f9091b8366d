// The fast test tier for calls: forwarders whose attempts the test drives by hand, an upstream
// of such endpoints, and a sink that records what the client was given. A call, its steps and
// its timers run on a fake clock in milliseconds, with no socket.
import { DecisionLog } from '../../src/observability/decisions.ts';
import type { OutgoingHttpHeaders } from 'node:http';
import { Writable, type Readable } from 'node:stream';
import { FakeClock } from '../../src/clock.ts';
import { DEFAULT_POLICY, LISTENERS_DEFAULTS } from '../../src/config/defaults.ts';
import type { ServiceConfig, UpstreamConfig } from '../../src/config/types.ts';
import { InternalErrors } from '../../src/observability/internal-errors.ts';
import { AccessLog, createLogger } from '../../src/observability/logger.ts';
import { MeshletMetrics } from '../../src/observability/metrics.ts';
import { composeSteps, type Attempt, type AttemptHandler, type CancelReason, type Step } from '../../src/proxy/call/attempt.ts';
import { EndpointDispatcher } from '../../src/proxy/call/endpoint-step.ts';
import type { AttemptReason } from '../../src/proxy/call/outcome.ts';
import type { ProxiedRequest } from '../../src/proxy/call/proxied-request.ts';
import { ProxyCall, type CallEnvironment } from '../../src/proxy/call/proxy-call.ts';
import { ReplayBufferTracker } from '../../src/proxy/call/replay-buffer-tracker.ts';
import type { AttemptBody } from '../../src/proxy/call/replay-body.ts';
import type { ResponseEnding, ResponseSink } from '../../src/proxy/call/response-sink.ts';
import type { ProxyError } from '../../src/proxy/errors.ts';
import type { Forwarder, ForwarderSettings } from '../../src/proxy/forward/forwarder.ts';
import { SharedForwarder, type ForwarderLease } from '../../src/proxy/forward/forwarder-lease.ts';
import type { ForwarderPool, ForwarderTarget } from '../../src/proxy/forward/forwarder-pool.ts';
import { prepareUpstream, Upstream } from '../../src/proxy/upstream/upstream.ts';
import type { ConnectProbe } from '../../src/proxy/upstream/reachability.ts';
import { InboundService, prepareInbound } from '../../src/proxy/inbound/inbound-service.ts';

/** One attempt as the endpoint side of the test sees it: drive the response, read what the call did. */
export class DrivenAttempt implements Attempt {
  cancelledAs: CancelReason | undefined;
  resumes = 0;

  constructor(
    readonly endpoint: string,
    readonly request: ProxiedRequest,
    readonly body: Readable | null,
    private readonly handler: AttemptHandler,
  ) {}

  cancel(reason: CancelReason): void {
    this.cancelledAs ??= reason;
  }

  resume(): void {
    this.resumes++;
  }

  /** What the handler answered: true when it committed to the response. */
  head(status: number, headers: OutgoingHttpHeaders = {}, endStream = false): boolean {
    return this.handler.onResponseStart(status, headers, endStream, true);
  }

  data(chunk: string): boolean {
    return this.handler.onData(Buffer.from(chunk));
  }

  end(trailers?: OutgoingHttpHeaders): void {
    this.handler.onEnd(trailers);
  }

  fail(reason: AttemptReason, message = reason): void {
    this.handler.onError(reason, message);
  }

  internalError(err: unknown): void {
    this.handler.onInternalError('http1_forwarder', err);
  }
}

/** A forwarder that records each attempt for the test to drive; `onForward` may act at once (fail synchronously, say). */
export class DrivenForwarder implements Forwarder {
  readonly attempts: DrivenAttempt[] = [];
  onForward: ((attempt: DrivenAttempt) => void) | undefined;
  /** Every applySettings, in order. */
  readonly settings: ForwarderSettings[] = [];
  closed = false;

  constructor(readonly address: string) {}

  forward(request: ProxiedRequest, body: AttemptBody | null, handler: AttemptHandler): Attempt {
    const attempt = new DrivenAttempt(this.address, request, body?.readable() ?? null, handler);
    this.attempts.push(attempt);
    this.onForward?.(attempt);
    return attempt;
  }

  applySettings(settings: ForwarderSettings): void {
    this.settings.push(settings);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Leases DrivenForwarders as the real pool leases forwarders: one per endpoint and connection limits. */
export class DrivenForwarderPool {
  /** Every forwarder made, in order. */
  readonly made: DrivenForwarder[] = [];
  private readonly shared = new Map<string, SharedForwarder>();
  /** Addresses a reachability probe finds nobody listening at; every other probe connects. */
  readonly down = new Set<string>();
  /** Every reachability probe made, in order, as host:port. */
  readonly probed: string[] = [];

  /** The upstream's ConnectProbe: answers at once, by `down`. */
  readonly connectProbe: ConnectProbe = (host, port) => {
    const address = `${host}:${port}`;
    this.probed.push(address);
    return Promise.resolve(!this.down.has(address));
  };

  lease(target: ForwarderTarget, settings: ForwarderSettings): ForwarderLease {
    const key = `${target.transport}|${target.host}|${target.port}|${JSON.stringify(target.connections)}`;
    let shared = this.shared.get(key);
    if (!shared) {
      const forwarder = new DrivenForwarder(`${target.host}:${target.port}`);
      this.made.push(forwarder);
      shared = new SharedForwarder(forwarder, () => {
        this.shared.delete(key);
        void forwarder.close();
      });
      this.shared.set(key, shared);
    }
    return shared.lease(settings);
  }

  /** The one forwarder leased now for `address`. */
  forwarderOf(address: string): DrivenForwarder | undefined {
    return this.made.find((forwarder) => forwarder.address === address && !forwarder.closed);
  }

  asPool(): ForwarderPool {
    return this as unknown as ForwarderPool;
  }
}

/** What the client was given. */
export class RecordingSink implements ResponseSink {
  headersSent = false;
  bytesSent = 0;
  status = 0;
  /** The committed response's head, as the sink was given it. */
  headers: OutgoingHttpHeaders = {};
  /** Every error the call answered with, as the sink was given it. */
  readonly errors: ProxyError[] = [];
  ended = false;
  readonly chunks: string[] = [];
  readonly failures: string[] = [];
  resets = 0;
  /** Set to make writes report back-pressure. */
  full = false;
  readonly body: Writable;

  constructor() {
    this.body = new Writable({
      highWaterMark: 1,
      write: (chunk: Buffer, _encoding, done) => {
        this.chunks.push(chunk.toString());
        if (this.full) this.release = done;
        else done();
      },
    });
  }

  /** Completes a write held back by `full`. */
  release: (() => void) | undefined;

  start(status: number, headers: OutgoingHttpHeaders, endStream: boolean): boolean {
    this.headersSent = true;
    this.status = status;
    this.headers = headers;
    if (endStream) this.ended = true;
    return true;
  }

  finish(_trailers: OutgoingHttpHeaders | undefined, ending: ResponseEnding): void {
    this.ended = true;
    ending.responseSent();
  }

  reset(): void {
    this.resets += 1;
  }

  fail(error: ProxyError): void {
    this.errors.push(error);
    if (this.headersSent) this.reset();
    else this.failures.push(`${error.httpStatus} ${error.code}`);
  }

  get text(): string {
    return this.chunks.join('');
  }
}

export const GET: ProxiedRequest = { method: 'GET', path: '/', authority: 'catalog', headers: [], body: null, grpc: false, sourceAddress: '127.0.0.1', multiplexed: false };

/** An HTTP/1.1 upstream "catalog" of `addresses` with the default policy, changed by `policy`. */
export function catalogConfig(addresses: readonly string[], policy: Partial<UpstreamConfig['policy']> = {}): UpstreamConfig {
  return {
    name: 'catalog',
    protocol: 'http',
    endpoints: addresses.map((address) => {
      const [host = '', port = '0'] = address.split(':');
      return { address, host, port: Number(port), weight: 1, backup: false, metadata: {} };
    }),
    policy: { ...DEFAULT_POLICY, ...policy },
  };
}

export interface CallRig {
  readonly clock: FakeClock;
  readonly metrics: MeshletMetrics;
  readonly forwarders: readonly DrivenForwarder[];
  readonly upstream: Upstream;
  readonly pool: DrivenForwarderPool;
  readonly env: CallEnvironment;
  readonly decisions: DecisionLog;
  /** Access-log lines and other log lines, parsed. */
  readonly lines: Record<string, unknown>[];
  /** Starts a call of `request`; returns it with the sink it answers. */
  call(request?: ProxiedRequest): { call: ProxyCall; sink: RecordingSink };
  /** Every attempt over all endpoints, in the order they were made. */
  attempts(): DrivenAttempt[];
}

/**
 * A round-robin upstream "catalog" of `addresses`, each behind a DrivenForwarder, with `steps`
 * before the endpoint step (or a function making them on the rig's clock).
 */
export function callRig(
  options: { addresses?: readonly string[]; timeoutMs?: number; policy?: Partial<UpstreamConfig['policy']>; steps?: readonly Step[] | ((clock: FakeClock) => readonly Step[]); replayBuffered?: number } = {},
): CallRig {
  const clock = new FakeClock();
  const metrics = new MeshletMetrics();
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', name: 'call-test' }, { write: (msg: string) => void lines.push(JSON.parse(msg) as Record<string, unknown>) });
  const addresses = options.addresses ?? ['127.0.0.1:1'];
  const pool = new DrivenForwarderPool();
  const decisions = new DecisionLog(clock, () => 0);
  const deps = { clock, random: () => 0, metrics, forwarders: pool.asPool(), decisions, connectProbe: pool.connectProbe };
  const upstream = new Upstream(prepareUpstream(catalogConfig(addresses, { timeout: options.timeoutMs ?? 0, ...options.policy }), deps), deps);
  const forwarders = addresses.map((address) => pool.forwarderOf(address)!);
  const order: DrivenAttempt[] = [];
  for (const forwarder of forwarders) forwarder.onForward = (attempt) => void order.push(attempt);
  const env: CallEnvironment = {
    clock,
    accessLog: new AccessLog(logger),
    internalErrors: new InternalErrors(metrics, logger),
    dispatcher: composeSteps(typeof options.steps === 'function' ? options.steps(clock) : (options.steps ?? []), new EndpointDispatcher(clock)),
    replayBuffers: new ReplayBufferTracker(options.replayBuffered ?? LISTENERS_DEFAULTS.maxReplayBuffered),
  };
  return {
    clock, metrics, forwarders, upstream, pool, env, lines, decisions,
    call(request = GET) {
      const sink = new RecordingSink();
      const call = new ProxyCall(upstream, request, sink, env);
      call.run();
      return { call, sink };
    },
    attempts: () => order,
  };
}

/** An inbound service "orders" in front of one local application, 127.0.0.1:8080 unless `target` says. */
export function ordersService(limits: Partial<ServiceConfig['limits']> = {}, options: { target?: string; timeoutMs?: number } = {}): ServiceConfig {
  const [host = '', port = '0'] = (options.target ?? '127.0.0.1:8080').split(':');
  return {
    name: 'orders',
    protocol: 'http',
    target: { host, port: Number(port), text: `${host}:${port}` },
    listen: { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' },
    timeout: options.timeoutMs ?? 0,
    limits: { maxConcurrent: 1024, ...limits },
    weight: 1,
    zone: '',
  };
}

export interface InboundRig {
  readonly clock: FakeClock;
  readonly metrics: MeshletMetrics;
  readonly decisions: DecisionLog;
  readonly pool: DrivenForwarderPool;
  readonly service: InboundService;
  readonly lines: Record<string, unknown>[];
  call(request?: ProxiedRequest): { call: ProxyCall<InboundService>; sink: RecordingSink };
  /** Every attempt the local application was sent, over every forwarder leased, in order. */
  attempts(): DrivenAttempt[];
  /** Prepares and commits `config`, as a reload does. */
  reload(config: ServiceConfig): void;
}

/** A real InboundService over a DrivenForwarder, on a fake clock. */
export function inboundRig(config: ServiceConfig = ordersService()): InboundRig {
  const clock = new FakeClock();
  const metrics = new MeshletMetrics();
  const decisions = new DecisionLog(clock, () => 0);
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', name: 'inbound-test' }, { write: (msg: string) => void lines.push(JSON.parse(msg) as Record<string, unknown>) });
  const pool = new DrivenForwarderPool();
  const service = new InboundService(prepareInbound(config, clock, () => 0), 'service:orders', { clock, metrics, forwarders: pool.asPool(), decisions });
  const order: DrivenAttempt[] = [];
  const env: CallEnvironment<InboundService> = {
    clock,
    accessLog: new AccessLog(logger),
    internalErrors: new InternalErrors(metrics, logger),
    dispatcher: service.dispatcher,
    replayBuffers: new ReplayBufferTracker(LISTENERS_DEFAULTS.maxReplayBuffered),
  };
  const watch = (): void => {
    for (const forwarder of pool.made) forwarder.onForward = (attempt) => void order.push(attempt);
  };
  watch();
  return {
    clock, metrics, decisions, pool, service, lines,
    call(request = GET) {
      const sink = new RecordingSink();
      const call = new ProxyCall(service, request, sink, env);
      call.run();
      return { call, sink };
    },
    attempts: () => order,
    reload(next) {
      service.commit(prepareInbound(next, clock, () => 0, service));
      watch();
    },
  };
}
