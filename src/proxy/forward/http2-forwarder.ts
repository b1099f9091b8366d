// HTTP/2 (h2c) and gRPC to one endpoint over one multiplexed session, opened lazily and
// replaced after GOAWAY or close; streams already running on a closing session finish there.

import http2, { type Http2Session, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import net from 'node:net';
import type { Clock, TimerHandle } from '../../clock.ts';
import { formatHostPort } from '../../config/address.ts';
import type { ConnectionsConfig } from '../../config/types.ts';
import { EndpointGate, type GatedRequest } from './endpoint-gate.ts';
import { classifyStreamReset, classifyTransportError } from '../errors.ts';
import type { Attempt, Forwarder } from './forwarder.ts';
import { endToEndFromHttp2, trailersFromHttp2 } from '../headers.ts';
import { SessionLiveness } from './http2-liveness.ts';
import type { ProxiedRequest } from '../call/proxied-request.ts';
import type { ProxyCall } from '../call/proxy-call.ts';

const { NGHTTP2_CANCEL, HTTP2_FLAG_END_STREAM } = { ...http2.constants, HTTP2_FLAG_END_STREAM: 0x1 };

const requestCutOff = new Error('request cancelled before its body was sent');

const MAX_WINDOW = 2 ** 31 - 1;

export interface Http2ForwarderOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly clock: Clock;
  readonly connections: ConnectionsConfig;
}

export class Http2Forwarder implements Forwarder {
  private session: ClientHttp2Session | undefined;
  private readonly connectedSessions = new WeakSet<ClientHttp2Session>();
  private readonly liveness = new WeakMap<ClientHttp2Session, SessionLiveness>();
  private closing = false;
  private readonly authority: string;
  /**
   * Streams beyond the endpoint's MAX_CONCURRENT_STREAMS would wait in nghttp2's own queue,
   * unbounded and past the reach of a cancel; they wait here instead.
   */
  readonly gate: EndpointGate<Http2Exchange>;
  /**
   * What the endpoint can make the agent buffer is the stream window per stream; the session
   * window lets every allowed stream use its whole window at once, so a stalled stream never
   * holds back the others on the session.
   */
  private readonly sessionWindow: number;
  private readonly overflowMessage: string;

  constructor(private readonly options: Http2ForwarderOptions) {
    this.authority = `http://${formatHostPort(options.host, options.port)}`;
    const { maxStreamsPerConnection, maxQueued, streamWindow } = options.connections;
    this.gate = new EndpointGate(this.streamCapacity, maxQueued);
    this.sessionWindow = Math.min(MAX_WINDOW, streamWindow * maxStreamsPerConnection);
    this.overflowMessage = `all streams the endpoint allows are open and ${maxQueued} requests wait already`;
  }

  forward(call: ProxyCall): void {
    const exchange = new Http2Exchange(call, this);
    call.attempt = exchange;
    if (!this.gate.enter(exchange, call.request.multiplexed)) call.fail('MESHLET_UPSTREAM_OVERFLOW', this.overflowMessage);
  }

  /** The configured stream limit, or the endpoint's MAX_CONCURRENT_STREAMS if lower. */
  private readonly streamCapacity = (): number => {
    const own = this.options.connections.maxStreamsPerConnection;
    const announced = this.session?.remoteSettings.maxConcurrentStreams;
    return announced === undefined ? own : Math.min(own, announced);
  };

  /** Requests already queued still go out (they were forwarded before the close); then the session closes. */
  async close(): Promise<void> {
    await this.gate.whenEmpty();
    this.closing = true;
    const session = this.session;
    this.session = undefined;
    if (session && !session.closed) await new Promise<void>((resolve) => session.close(resolve));
  }

  /** Counts `stream` as open on its session until it closes (see SessionLiveness). */
  trackStream(session: ClientHttp2Session, stream: ClientHttp2Stream): void {
    const liveness = this.liveness.get(session);
    if (!liveness) return;
    liveness.streamOpened();
    stream.once('close', liveness.streamClosed);
  }

  /** Whether `session` ever connected: failures before that are connect failures. */
  hasConnected(session: Http2Session | undefined): boolean {
    return session !== undefined && this.connectedSessions.has(session as ClientHttp2Session);
  }

  currentSession(): ClientHttp2Session {
    const existing = this.session;
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const { host, port } = this.options;
    const session = http2.connect(this.authority, {
      settings: { initialWindowSize: this.options.connections.streamWindow, enablePush: false },
      // Without TCP_NODELAY, small frames wait out the peer's delayed ACK (~40 ms each).
      createConnection: () => net.connect({ host, port, noDelay: true }),
    });
    this.session = session;
    // A PING answers within what a connect may take: the same round trip to the endpoint.
    this.liveness.set(session, new SessionLiveness(session, this.options.connectTimeoutMs, this.options.clock));
    let connectTimer: TimerHandle | undefined = this.options.clock.setTimeout(() => {
      connectTimer = undefined;
      const err = Object.assign(new Error(`connect timeout after ${this.options.connectTimeoutMs}ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' });
      session.destroy(err);
    }, this.options.connectTimeoutMs);
    const clearConnectTimer = (): void => {
      if (connectTimer !== undefined) this.options.clock.clearTimeout(connectTimer);
      connectTimer = undefined;
    };
    session.once('connect', () => {
      clearConnectTimer();
      this.connectedSessions.add(session);
      session.setLocalWindowSize(this.sessionWindow);
    });
    const forget = (): void => {
      clearConnectTimer();
      if (this.session === session) this.session = undefined;
    };
    // Errors reach the streams on this session; the session itself only needs forgetting.
    session.on('error', forget);
    session.once('goaway', forget);
    session.once('close', forget);
    if (this.closing) session.close();
    return session;
  }
}

function upstreamRequestHeaders(request: ProxiedRequest): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const source = request.headers;
  if (Array.isArray(source)) {
    for (let i = 0; i < source.length; i += 2) {
      const name = source[i]!;
      if (name === 'host') continue;
      const prior = headers[name];
      headers[name] = prior === undefined ? source[i + 1]! : `${String(prior)}, ${source[i + 1]!}`;
    }
  } else {
    for (const name in source) if (name !== 'host') headers[name] = (source as OutgoingHttpHeaders)[name];
  }
  headers[':method'] = request.method;
  headers[':path'] = request.path;
  headers[':authority'] = request.authority;
  headers[':scheme'] = 'http';
  return headers;
}

function grpcStatusOf(headers: IncomingHttpHeaders | OutgoingHttpHeaders | undefined): number | undefined {
  const value = headers?.['grpc-status'];
  return value === undefined ? undefined : Number(value);
}

/** One stream on the session, relaying the response into the call's sink. */
class Http2Exchange implements Attempt, GatedRequest {
  /** Kept here: node clears `stream.session` once the stream closes, before 'error' and 'close' run. */
  private session: ClientHttp2Session | undefined;
  private stream: ClientHttp2Stream | undefined;
  private cancelled = false;
  private status = 0;
  private responseHeaders: IncomingHttpHeaders | undefined;
  private trailers: OutgoingHttpHeaders | undefined;
  private endedWithHeaders = false;
  /** The upstream's response is whole: what its stream does after that is no failure of the call. */
  private responseWhole = false;

  constructor(
    private readonly call: ProxyCall,
    private readonly forwarder: Http2Forwarder,
  ) {}

  private get sessionUp(): boolean {
    return this.status > 0 || this.forwarder.hasConnected(this.session);
  }

  send(): void {
    const session = this.forwarder.currentSession();
    const request = this.call.request;
    this.session = session;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(upstreamRequestHeaders(request), { endStream: request.body === null });
    } catch (err) {
      this.forwarder.gate.release();
      this.call.fail(classifyTransportError(err, this.forwarder.hasConnected(session)), (err as Error).message);
      return;
    }
    this.stream = stream;
    this.forwarder.trackStream(session, stream);
    stream.once('close', this.forwarder.gate.release);
    stream.on('response', this.onResponse);
    stream.on('trailers', this.onTrailers);
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
    if (request.body) request.body.pipe(stream);
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    if (this.forwarder.gate.withdraw(this)) return;
    const stream = this.stream;
    if (!stream || stream.destroyed) return;
    // close() ends a request body still being sent (END_STREAM) before it resets, and the
    // upstream may take the cut-off upload for a whole one; destroying with an error resets
    // alone, with RST_STREAM(INTERNAL_ERROR) instead of CANCEL.
    if (stream.writableEnded) stream.close(NGHTTP2_CANCEL);
    else stream.destroy(requestCutOff);
  }

  // node:http2 emits these; each keeps an exception of the agent's from reaching the emitter
  // (where it would end the process) and fails this call alone.

  private readonly onResponse = (headers: IncomingHttpHeaders, flags: number): void => {
    try {
      if (this.call.settled) return;
      this.status = Number(headers[':status']);
      this.responseHeaders = headers;
      const endStream = (flags & HTTP2_FLAG_END_STREAM) !== 0;
      this.endedWithHeaders = endStream;
      // HTTP/2 announces no trailers ahead (a Trailer header is optional), so any body may end with some.
      this.call.startResponse(this.status, endToEndFromHttp2(headers), endStream, true);
    } catch (err) {
      this.call.internalError('http2_forwarder', err);
    }
  };

  private readonly onTrailers = (trailers: IncomingHttpHeaders): void => {
    try {
      this.trailers = trailersFromHttp2(trailers);
    } catch (err) {
      this.call.internalError('http2_forwarder', err);
    }
  };

  private readonly onData = (chunk: Buffer): void => {
    try {
      if (this.call.settled) return;
      const sink = this.call.sink;
      sink.bytesSent += chunk.length;
      if (!sink.body.write(chunk)) {
        this.stream!.pause();
        sink.body.once('drain', this.resume);
      }
    } catch (err) {
      this.call.internalError('http2_forwarder', err);
    }
  };

  private readonly resume = (): void => {
    this.stream?.resume();
  };

  private readonly onEnd = (): void => {
    try {
      if (this.call.settled || this.status === 0) return;
      // node ends a response's body when its stream closes too, END_STREAM or not (RST_STREAM,
      // a session gone). A whole body the client read slowly also ends after its stream closed,
      // with NO_ERROR on a session still up: that one is whole.
      const code = this.stream!.rstCode ?? 0;
      if (!this.endedWithHeaders && this.stream!.closed && (code !== 0 || this.session?.destroyed !== false)) {
        this.call.fail(classifyStreamReset(code, this.sessionUp), `response cut off before END_STREAM (stream closed with code ${code})`);
        return;
      }
      this.responseWhole = true;
      const grpcStatus = grpcStatusOf(this.trailers) ?? grpcStatusOf(this.responseHeaders);
      if (this.endedWithHeaders) this.call.complete(this.status, grpcStatus);
      else this.call.endResponse(this.trailers, this.status, grpcStatus);
    } catch (err) {
      this.call.internalError('http2_forwarder', err);
    }
  };

  private readonly onError = (err: Error): void => {
    try {
      if (this.call.settled || this.responseWhole) return;
      // A stream cancelled because its session failed carries the session's error (ECONNREFUSED,
      // connect timeout) as its cause: that is what the client needs to read.
      const cause = err.cause instanceof Error ? err.cause : err;
      const code = (cause as { code?: string }).code === 'ERR_HTTP2_STREAM_ERROR'
        ? classifyStreamReset(this.stream?.rstCode ?? 0, this.sessionUp)
        : classifyTransportError(cause, this.sessionUp);
      this.call.fail(code, cause.message);
    } catch (thrown) {
      this.call.internalError('http2_forwarder', thrown);
    }
  };

  private readonly onClose = (): void => {
    try {
      if (this.call.settled || this.responseWhole) return;
      const code = this.stream?.rstCode ?? 0;
      this.call.fail(classifyStreamReset(code, this.sessionUp), `stream closed by upstream (RST_STREAM code ${code})`);
    } catch (err) {
      this.call.internalError('http2_forwarder', err);
    }
  };
}
