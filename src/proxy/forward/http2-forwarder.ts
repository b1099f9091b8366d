// HTTP/2 (h2c) and gRPC to one endpoint over one multiplexed session, opened lazily and
// replaced after GOAWAY or close; streams already running on a closing session finish there.

import http2, { type Http2Session, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import net from 'node:net';
import type { Clock, TimerHandle } from '../../clock.ts';
import { formatHostPort } from '../../config/address.ts';
import type { ConnectionsConfig } from '../../config/types.ts';
import { EndpointGate, type GatedRequest } from './endpoint-gate.ts';
import { NO_ATTEMPT, type Attempt, type AttemptHandler } from '../call/attempt.ts';
import type { AttemptReason } from '../call/outcome.ts';
import { isFinalStatus, notFinalStatus, type Forwarder, type ForwarderSettings } from './forwarder.ts';
import { classifyStreamReset, classifyTransportError } from './transport-errors.ts';
import { endToEndFromHttp2, trailersFromHttp2 } from '../headers.ts';
import { SessionLiveness } from './http2-liveness.ts';
import type { ProxiedRequest } from '../call/proxied-request.ts';
import type { AttemptBody } from '../call/replay-body.ts';

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
  /** Read when a session opens; replaced by applySettings. */
  private connectTimeoutMs: number;

  constructor(private readonly options: Http2ForwarderOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs;
    this.authority = `http://${formatHostPort(options.host, options.port)}`;
    const { maxStreamsPerConnection, maxQueued, streamWindow } = options.connections;
    this.gate = new EndpointGate(this.streamCapacity, maxQueued);
    this.sessionWindow = Math.min(MAX_WINDOW, streamWindow * maxStreamsPerConnection);
    this.overflowMessage = `all streams the endpoint allows are open and ${maxQueued} requests wait already`;
  }

  forward(request: ProxiedRequest, body: AttemptBody | null, handler: AttemptHandler): Attempt {
    const exchange = new Http2Exchange(request, body, handler, this);
    if (!this.gate.enter(exchange, request.multiplexed)) {
      handler.onError('overflow', this.overflowMessage);
      return NO_ATTEMPT;
    }
    return exchange;
  }

  /** The configured stream limit, or the endpoint's MAX_CONCURRENT_STREAMS if lower. */
  private readonly streamCapacity = (): number => {
    const own = this.options.connections.maxStreamsPerConnection;
    const announced = this.session?.remoteSettings.maxConcurrentStreams;
    return announced === undefined ? own : Math.min(own, announced);
  };

  applySettings(settings: ForwarderSettings): void {
    this.connectTimeoutMs = settings.connectTimeoutMs;
  }

  /** Requests already queued still go out (they were forwarded before the close); then the session closes. */
  async close(): Promise<void> {
    await this.gate.whenEmpty();
    this.closing = true;
    const session = this.session;
    this.session = undefined;
    if (session && !session.closed) await new Promise<void>((resolve) => session.close(resolve));
  }

  /** Counts a stream as open on `session` (see SessionLiveness); the caller tells the liveness returned when it closes. */
  streamOpened(session: ClientHttp2Session): SessionLiveness | undefined {
    const liveness = this.liveness.get(session);
    liveness?.streamOpened();
    return liveness;
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
    const connectTimeoutMs = this.connectTimeoutMs;
    // A PING answers within what a connect may take: the same round trip to the endpoint.
    this.liveness.set(session, new SessionLiveness(session, connectTimeoutMs, this.options.clock));
    let connectTimer: TimerHandle | undefined = this.options.clock.setTimeout(() => {
      connectTimer = undefined;
      const err = Object.assign(new Error(`connect timeout after ${connectTimeoutMs}ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' });
      session.destroy(err);
    }, connectTimeoutMs);
    const clearConnectTimer = (): void => {
      if (connectTimer !== undefined) this.options.clock.clearTimeout(connectTimer);
      connectTimer = undefined;
    };
    session.once('connect', () => {
      clearConnectTimer();
      // node emits 'connect' for a session destroyed while its TCP connect was pending too (the
      // connect timeout fired first), once that connect completes; the session is no use then.
      if (session.destroyed) return;
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

/** One stream on the session, relaying the response to the attempt's handler. */
class Http2Exchange implements Attempt, GatedRequest {
  /** Kept here: node clears `stream.session` once the stream closes, before 'error' and 'close' run. */
  private session: ClientHttp2Session | undefined;
  private stream: ClientHttp2Stream | undefined;
  private liveness: SessionLiveness | undefined;
  private status = 0;
  private trailers: OutgoingHttpHeaders | undefined;
  private endedWithHeaders = false;
  /** Set once the handler has heard the end, an error or a cancel: what the stream does after that is no concern of it. */
  private over = false;

  constructor(
    private readonly request: ProxiedRequest,
    private readonly body: AttemptBody | null,
    private readonly handler: AttemptHandler,
    private readonly forwarder: Http2Forwarder,
  ) {}

  private get sessionUp(): boolean {
    return this.status > 0 || this.forwarder.hasConnected(this.session);
  }

  send(): void {
    const session = this.forwarder.currentSession();
    this.session = session;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(upstreamRequestHeaders(this.request), { endStream: this.body === null });
    } catch (err) {
      this.forwarder.gate.release();
      this.over = true;
      this.handler.onError(classifyTransportError(err, this.forwarder.hasConnected(session), false), (err as Error).message);
      return;
    }
    this.stream = stream;
    this.liveness = this.forwarder.streamOpened(session);
    stream.on('response', this.onResponse);
    stream.on('trailers', this.onTrailers);
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
    stream.on('close', this.onClose);
    // The attempt's own reader of the call's body, written straight into the stream: neither
    // stream.pipeline (an AbortController and a DOMException per call: 7 % of the agent's CPU on
    // gRPC) nor a Readable piped with pipe()'s listeners.
    this.body?.writeTo(stream, this.onBodyError);
  }

  cancel(): void {
    if (this.over) return;
    this.over = true;
    if (this.forwarder.gate.withdraw(this)) return;
    const stream = this.stream;
    if (!stream || stream.destroyed) return;
    // close() ends a request body still being sent (END_STREAM) before it resets, and the
    // upstream may take the cut-off upload for a whole one; destroying with an error resets
    // alone, with RST_STREAM(INTERNAL_ERROR) instead of CANCEL.
    if (stream.writableEnded) stream.close(NGHTTP2_CANCEL);
    else stream.destroy(requestCutOff);
  }

  resume(): void {
    this.stream?.resume();
  }

  /** Tells the handler why the attempt ended, once. */
  private failed(reason: AttemptReason, message: string): void {
    if (this.over) return;
    this.over = true;
    this.handler.onError(reason, message);
  }

  private internalError(err: unknown): void {
    if (this.over) return;
    this.cancel();
    this.handler.onInternalError('http2_forwarder', err);
  }

  // node:http2 emits these; each keeps an exception of the agent's from reaching the emitter
  // (where it would end the process) and fails this attempt's call alone.

  private readonly onResponse = (headers: IncomingHttpHeaders, flags: number): void => {
    try {
      if (this.over) return;
      const status = Number(headers[':status']);
      if (!isFinalStatus(status)) {
        this.cancel();
        this.handler.onError('bad_response', notFinalStatus(status));
        return;
      }
      this.status = status;
      const endStream = (flags & HTTP2_FLAG_END_STREAM) !== 0;
      this.endedWithHeaders = endStream;
      // HTTP/2 announces no trailers ahead (a Trailer header is optional), so any body may end with some.
      if (!this.handler.onResponseStart(status, endToEndFromHttp2(headers), endStream, true)) this.cancel();
    } catch (err) {
      this.internalError(err);
    }
  };

  private readonly onTrailers = (trailers: IncomingHttpHeaders): void => {
    try {
      this.trailers = trailersFromHttp2(trailers);
    } catch (err) {
      this.internalError(err);
    }
  };

  private readonly onData = (chunk: Buffer): void => {
    try {
      if (this.over) return;
      if (!this.handler.onData(chunk)) this.stream!.pause();
    } catch (err) {
      this.internalError(err);
    }
  };

  private readonly onEnd = (): void => {
    try {
      if (this.over || this.status === 0) return;
      // node ends a response's body when its stream closes too, END_STREAM or not (RST_STREAM,
      // a session gone). A whole body the client read slowly also ends after its stream closed,
      // with NO_ERROR on a session still up: that one is whole.
      const code = this.stream!.rstCode ?? 0;
      if (!this.endedWithHeaders && this.stream!.closed && (code !== 0 || this.session?.destroyed !== false)) {
        this.failed(classifyStreamReset(code, this.sessionUp, true), `response cut off before END_STREAM (stream closed with code ${code})`);
        return;
      }
      this.over = true;
      this.handler.onEnd(this.endedWithHeaders ? undefined : this.trailers);
    } catch (err) {
      this.internalError(err);
    }
  };

  private readonly onError = (err: Error): void => {
    try {
      if (this.over) return;
      // A stream cancelled because its session failed carries the session's error (ECONNREFUSED,
      // connect timeout) as its cause: that is what the client needs to read.
      const cause = err.cause instanceof Error ? err.cause : err;
      const headersReceived = this.status > 0;
      const reason = (cause as { code?: string }).code === 'ERR_HTTP2_STREAM_ERROR'
        ? classifyStreamReset(this.stream?.rstCode ?? 0, this.sessionUp, headersReceived)
        : classifyTransportError(cause, this.sessionUp, headersReceived);
      this.failed(reason, cause.message);
    } catch (thrown) {
      this.internalError(thrown);
    }
  };

  /** The client's upload broke off, or outran the replay buffer behind another attempt: the upstream must not take it for whole. */
  private readonly onBodyError = (): void => {
    const stream = this.stream;
    if (stream && !stream.destroyed) stream.destroy(requestCutOff);
  };

  /**
   * The stream's one 'close' listener (one listener rather than three keeps node from copying a
   * listener array on every emit): the session's liveness and the gate hear of it whatever the
   * attempt made of it, before the handler does.
   */
  private readonly onClose = (): void => {
    this.liveness?.streamClosed();
    this.forwarder.gate.release();
    try {
      if (this.over) return;
      const code = this.stream?.rstCode ?? 0;
      this.failed(classifyStreamReset(code, this.sessionUp, this.status > 0), `stream closed by upstream (RST_STREAM code ${code})`);
    } catch (err) {
      this.internalError(err);
    }
  };
}
