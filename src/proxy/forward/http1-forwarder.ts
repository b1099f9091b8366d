// HTTP/1.1 to one endpoint through an undici keep-alive pool. Each attempt is a raw dispatch
// handler, so the response streams straight to the attempt's handler with back-pressure.

import type { buildConnector as UndiciBuildConnector, Dispatcher, Pool as UndiciPool } from 'undici';
import type { Clock, TimerHandle } from '../../clock.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { AttemptBody } from '../call/replay-body.ts';
import { formatHostPort } from '../../config/address.ts';
import type { ConnectionsConfig } from '../../config/types.ts';
import { EndpointGate, type GatedRequest } from './endpoint-gate.ts';
import { classifyTransportError } from './transport-errors.ts';
import { buildConnector, Pool } from './undici-parts.ts';
import { undiciRefusal } from './undici-request-check.ts';
import { NO_ATTEMPT, type Attempt, type AttemptHandler, type CancelReason } from '../call/attempt.ts';
import type { AttemptReason } from '../call/outcome.ts';
import { isFinalStatus, notFinalStatus, type Forwarder, type ForwarderSettings } from './forwarder.ts';
import { endToEndResponseHeaders, isSkippableInformational, trailersFromRaw } from '../headers.ts';
import type { ProxiedRequest } from '../call/proxied-request.ts';

export interface Http1ForwarderOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly connections: ConnectionsConfig;
  readonly clock: Clock;
}

/**
 * A response nobody wants any more (a hedge's loser, a head the retry step discarded) is read
 * to its end and dropped, up to these bounds, so its connection goes back to the pool: HTTP/1.1
 * cannot stop one request without closing its connection, and a new connection per hedge or
 * retried 503 would churn the upstream's accept queue. Past them the connection is closed.
 */
export const DRAIN_LIMITS = { bytes: 64 * 1024, ms: 1000 } as const;

export class Http1Forwarder implements Forwarder {
  private readonly pool: UndiciPool;
  /** One request per connection (no pipelining), so requests on the wire never exceed the connection cap. */
  readonly gate: EndpointGate<Http1Exchange>;
  private readonly overflowMessage: string;
  /** Opens the pool's connections; replaced by applySettings, read at each connect. */
  private connector: UndiciBuildConnector.connector;
  readonly clock: Clock;

  constructor(options: Http1ForwarderOptions) {
    this.clock = options.clock;
    this.connector = buildConnector({ timeout: options.connectTimeoutMs });
    const { maxPerEndpoint, maxQueued } = options.connections;
    this.gate = new EndpointGate(() => maxPerEndpoint, maxQueued);
    this.overflowMessage = `all ${maxPerEndpoint} connections to the endpoint are busy and ${maxQueued} requests wait already`;
    this.pool = new Pool(`http://${formatHostPort(options.host, options.port)}`, {
      connections: maxPerEndpoint,
      connect: (connectOptions, callback) => this.connector(connectOptions, callback),
      // The call's own deadline (policy.timeout) governs; these would only cut long streams short.
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
    });
  }

  forward(request: ProxiedRequest, body: AttemptBody | null, handler: AttemptHandler): Attempt {
    // undici refuses such a request from inside dispatch, and the pool then counts the
    // connection it picked as busy until a 'drain' that never comes: once every connection
    // was picked so, all requests to the endpoint would queue for good.
    const refusal = undiciRefusal(request);
    if (refusal !== undefined) {
      handler.onError('bad_request', refusal);
      return NO_ATTEMPT;
    }
    const exchange = new Http1Exchange(request, body?.readable() ?? null, handler, this);
    if (!this.gate.enter(exchange, request.multiplexed)) {
      handler.onError('overflow', this.overflowMessage);
      return NO_ATTEMPT;
    }
    return exchange;
  }

  dispatch(exchange: Http1Exchange): void {
    const request = exchange.request;
    this.pool.dispatch(
      {
        path: request.path,
        method: request.method as Dispatcher.HttpMethod,
        headers: withHost(request.headers, request.authority),
        // The attempt's own reader of the call's body: undici destroys it when it is done with it.
        body: exchange.body,
      },
      exchange,
    );
  }

  /** Requests already queued still go out (they were forwarded before the close); then the pool closes. */
  applySettings(settings: ForwarderSettings): void {
    this.connector = buildConnector({ timeout: settings.connectTimeoutMs });
  }

  async close(): Promise<void> {
    await this.gate.whenEmpty();
    await this.pool.close();
  }
}

/** The request's headers plus Host: the authority the request was routed by, not the endpoint's address undici would send. */
function withHost(headers: ProxiedRequest['headers'], authority: string): string[] | IncomingHttpHeaders {
  return Array.isArray(headers) ? [...headers, 'host', authority] : { ...(headers as IncomingHttpHeaders), host: authority };
}

const cancelledByMeshlet = new Error('cancelled by meshlet');

/** One request on the pool; implements undici's dispatch handler protocol. */
class Http1Exchange implements Attempt, GatedRequest, Dispatcher.DispatchHandler {
  private abortUpstream: ((reason?: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private receivedHead = false;
  /** Set once the handler has heard the end, an error or a cancel: it hears nothing more. */
  private over = false;
  private sent = false;
  /** Set while an unwanted response is read to its end (DRAIN_LIMITS). */
  private drain: { bytes: number; readonly timer: TimerHandle } | undefined;

  constructor(
    readonly request: ProxiedRequest,
    readonly body: Readable | null,
    private readonly handler: AttemptHandler,
    readonly forwarder: Http1Forwarder,
  ) {}

  send(): void {
    this.sent = true;
    this.forwarder.dispatch(this);
  }

  cancel(reason: CancelReason): void {
    if (this.over) return;
    this.over = true;
    if (this.forwarder.gate.withdraw(this)) return;
    if (reason === 'superseded') this.drainOrAbort();
    else this.abortUpstream?.(cancelledByMeshlet);
  }

  resume(): void {
    this.resumeUpstream?.();
  }

  /** undici calls this just before it writes the request: an attempt cancelled while it waited for a connection stops here. */
  onConnect(abort: (reason?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.over) abort(cancelledByMeshlet);
  }

  // undici calls these from its parser; each keeps an exception of the agent's from reaching
  // undici (which would misreport it as the upstream's) and fails this attempt's call alone.

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    try {
      if (isSkippableInformational(status) || this.over) return true;
      if (!isFinalStatus(status)) {
        this.abandon('bad_response', notFinalStatus(status));
        return true;
      }
      this.receivedHead = true;
      this.resumeUpstream = resume;
      const headers = endToEndResponseHeaders(rawHeaders);
      if (status === 204 || status === 304) {
        // These never have a body (RFC 9110 §6.4.1), but undici holds a Content-Length against
        // the empty one and fails the exchange after the head: the answer is whole already.
        // A 204 must not carry Content-Length (§8.6), and HTTP/2 clients refuse one that does.
        if (status === 204) delete headers['content-length'];
        if (!this.handler.onResponseStart(status, headers, true, false)) {
          this.over = true;
          return true;
        }
        this.over = true;
        this.handler.onEnd(undefined);
        return true;
      }
      if (!this.handler.onResponseStart(status, headers, false, headers.trailer !== undefined)) {
        this.over = true;
        this.drainOrAbort();
      }
    } catch (err) {
      this.internalError(err);
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    try {
      if (this.drain !== undefined) {
        this.drain.bytes += chunk.length;
        if (this.drain.bytes > DRAIN_LIMITS.bytes) this.stopDraining();
        return true;
      }
      return this.over || this.handler.onData(chunk);
    } catch (err) {
      this.internalError(err);
      return true;
    }
  }

  onComplete(rawTrailers: (Buffer | string)[] | null): void {
    this.finished();
    try {
      if (this.over) return;
      this.over = true;
      this.handler.onEnd(trailersFromRaw(rawTrailers));
    } catch (err) {
      this.internalError(err);
    }
  }

  onError(err: Error): void {
    this.finished();
    try {
      if (this.over) return;
      this.over = true;
      this.handler.onError(classifyTransportError(err, true, this.receivedHead), err.message || (err as { code?: string }).code || 'upstream error');
    } catch (thrown) {
      this.internalError(thrown);
    }
  }

  /**
   * Reads the rest of an unwanted response (DRAIN_LIMITS) instead of closing its connection.
   * Before undici wrote the request, onConnect aborts it and the connection is untouched.
   */
  private drainOrAbort(): void {
    if (this.abortUpstream === undefined || !this.sent) return;
    this.drain = { bytes: 0, timer: this.forwarder.clock.setTimeout(() => this.stopDraining(), DRAIN_LIMITS.ms) };
    this.resumeUpstream?.();
  }

  private stopDraining(): void {
    this.endDrain();
    this.abortUpstream?.(cancelledByMeshlet);
  }

  private endDrain(): void {
    if (this.drain === undefined) return;
    this.forwarder.clock.clearTimeout(this.drain.timer);
    this.drain = undefined;
  }

  /** The response cannot be relayed: the upstream request stops, the handler hears why. */
  private abandon(reason: AttemptReason, message: string): void {
    this.over = true;
    this.abortUpstream?.(cancelledByMeshlet);
    this.handler.onError(reason, message);
  }

  private internalError(err: unknown): void {
    this.over = true;
    this.abortUpstream?.(cancelledByMeshlet);
    this.handler.onInternalError('http1_forwarder', err);
  }

  private finished(): void {
    this.endDrain();
    if (!this.sent) return;
    this.sent = false;
    this.forwarder.gate.release();
  }
}
