// The HTTP side a client talks to: one node:http server and one node:http2 server that own
// no port themselves. Listeners (and CONNECT tunnels) hand them sockets after sniffing the
// protocol; every request is resolved to an upstream and run as a ProxyCall.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ListenersConfig } from '../../config/types.ts';
import type { InternalErrorSite, MeshletMetrics } from '../../observability/metrics.ts';
import { isRefusal, parseAbsoluteTarget, requestAuthority, type AuthorityRefusal } from '../route/authority.ts';
import { ClientConnections, type ConnectionCloseReason } from './client-connections.ts';
import { ProxyError } from '../errors.ts';
import type { InFlightCounter } from './in-flight.ts';
import { endToEndFromHttp2, endToEndRequestHeaders, isGrpcContentType } from '../headers.ts';
import { Http1Sink } from './http1-sink.ts';
import { Http2Sink } from './http2-sink.ts';
import { ProxyCall, type CallEnvironment } from '../call/proxy-call.ts';
import type { ResponseSink } from '../call/response-sink.ts';
import { endWithRawResponse } from './raw-response.ts';
import { HTTP1_PARSED_HEADERS, HTTP2_PARSED_HEADER_PAIRS, MAX_REQUEST_HEADERS, http1HasTooManyHeaders, http2HasTooManyHeaders } from './request-limits.ts';
import type { Upstream } from '../upstream/upstream.ts';
import type { CallTarget } from '../call/call-target.ts';

const HTTP2_FLAG_END_STREAM = 0x1;

/** Finds the upstream (or the inbound service) for a request's authority; a fixed-upstream listener ignores it. */
export type UpstreamResolver<T extends CallTarget = Upstream> = (authority: string) => T | undefined;

/** Takes over an HTTP/1.1 CONNECT request's socket (the proxy listener's tunnels). */
export type ConnectHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface FrontendEnvironment<T extends CallTarget = Upstream> extends CallEnvironment<T> {
  readonly metrics: MeshletMetrics;
  readonly logger: Logger;
  /** Shared by every frontend: the process-wide cap on requests in flight. */
  readonly inFlight: InFlightCounter;
  /** Read per request: once draining, HTTP/1.1 responses close their connection. */
  readonly draining: () => boolean;
  /** Read when a frontend is built: a reload that changes them applies to new frontends only. */
  readonly listeners: ListenersConfig;
}

const MAX_WINDOW = 2 ** 31 - 1;

/** Maps HTTP parser errors to the status a client gets and the metric reason. */
function clientErrorShape(err: Error & { code?: string; reason?: string }): { status: number; text: string; reason: string } {
  switch (err.code) {
    case 'HPE_INVALID_VERSION':
      // llhttp says "Invalid HTTP version" for a well-formed HTTP/d.d it does not speak
      // (HTTP/3.0, HTTP/1.2), and names the syntax error otherwise.
      return err.reason === 'Invalid HTTP version'
        ? { status: 505, text: 'HTTP Version Not Supported', reason: 'unsupported_version' }
        : { status: 400, text: 'Bad Request', reason: 'bad_request' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, text: 'Request Header Fields Too Large', reason: 'header_overflow' };
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 400, text: 'Bad Request', reason: 'bad_chunking' };
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return { status: 400, text: 'Bad Request', reason: 'conflicting_length' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, text: 'Request Timeout', reason: 'request_timeout' };
    default:
      return { status: 400, text: 'Bad Request', reason: 'bad_request' };
  }
}

export class HttpFrontend<T extends CallTarget = Upstream> {
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly sessions = new Set<Http2Session>();
  /** The id of the last request stream each session handed to onStream. */
  private readonly lastStreamIds = new WeakMap<Http2Session, number>();
  /**
   * HTTP/1.1 connections, tracked here because node:http tracks connections (and so
   * closeIdleConnections/closeAllConnections work) only for a server that listens itself.
   */
  private readonly connections = new Set<Duplex>();
  private readonly tracked: ClientConnections;
  /**
   * Lets every stream the client may open use its whole window at once, so none holds back the
   * others. A smaller one would bound no memory: node:http2 returns connection-level window as
   * data arrives, read or not (see CONNECTIONS_DEFAULTS); it would only slow bulk transfers.
   */
  private readonly sessionWindow: number;
  private readonly connectHandler: ConnectHandler | undefined;
  private readonly overloaded: ProxyError;

  constructor(
    private readonly listenerName: string,
    private readonly resolve: UpstreamResolver<T>,
    private readonly env: FrontendEnvironment<T>,
    onConnect?: ConnectHandler,
  ) {
    const limits = env.listeners;
    this.overloaded = new ProxyError('MESHLET_OVERLOADED', `${limits.maxRequestsInFlight} requests in flight, the most listeners.maxRequestsInFlight allows`);
    this.tracked = new ClientConnections(limits, env.clock, this.onRequest, this.onConnectionClosed);
    // ClientConnections enforces the timeouts: Node's own run only for a server that listens itself.
    this.h1 = http.createServer({
      requestTimeout: 0,
      headersTimeout: 0,
      keepAliveTimeout: 0,
      // Node answers a missing Host itself, untyped and uncounted; onRequest does it instead.
      requireHostHeader: false,
    });
    this.h1.maxHeadersCount = HTTP1_PARSED_HEADERS;
    this.h1.on('request', this.tracked.onHttp1Request);
    this.h1.on('clientError', this.onClientError);
    this.connectHandler = onConnect;
    if (onConnect) this.h1.on('connect', this.onConnect);
    const { maxConcurrentStreams, streamWindow } = limits.http2;
    this.sessionWindow = Math.min(MAX_WINDOW, maxConcurrentStreams * streamWindow);
    // What a client can make the agent buffer is bounded per stream by the stream window and per
    // session by maxConcurrentStreams of them; nghttp2's own queues by maxSessionMemory (10 MB).
    this.h2 = http2.createServer({
      settings: { initialWindowSize: streamWindow, maxConcurrentStreams },
      maxHeaderListPairs: HTTP2_PARSED_HEADER_PAIRS,
    });
    this.h2.on('stream', this.onStream);
    this.h2.on('session', this.onSession);
    this.h2.on('sessionError', this.onSessionError);
  }

  /** Client connections open on this frontend (tunnels counted where they are served). */
  get openConnections(): number {
    return this.tracked.size;
  }

  /** A new connection, before sniffing: from now on it must send a request head in time. */
  adopt(socket: Duplex): void {
    this.tracked.adopt(socket);
  }

  /** Closes the connection that has waited longest without a request; false when every one is busy. */
  evictWaiting(): boolean {
    return this.tracked.evictWaiting();
  }

  /** Serves a connection whose first bytes are still unread in the socket's buffer. */
  acceptHttp1(socket: Duplex): void {
    this.connections.add(socket);
    socket.once('close', () => this.connections.delete(socket));
    this.h1.emit('connection', socket);
  }

  acceptHttp2(socket: Duplex): void {
    this.tracked.expectSession(socket);
    this.h2.emit('connection', socket);
  }

  /**
   * Stops keep-alive reuse: HTTP/2 sessions get GOAWAY; HTTP/1.1 responses from now on carry
   * `connection: close` (see onRequest), and close() ends the connections left idle.
   */
  drain(): void {
    for (const session of this.sessions) session.close();
  }

  /** After a drain: ends every connection once what was written to it has been sent. */
  close(): void {
    for (const socket of this.connections) {
      if (socket instanceof Socket) socket.destroySoon();
      else socket.end();
    }
    for (const session of this.sessions) session.close();
  }

  /** Last resort after the drain timeout, or for what close() could not end. */
  destroy(): void {
    for (const socket of this.connections) socket.destroy();
    for (const session of this.sessions) session.destroy();
  }

  /** Counts an exception that escaped the handling of a connection (see InternalErrors). */
  reportInternalError(site: InternalErrorSite, err: unknown): void {
    this.env.internalErrors.report(site, err);
  }

  // node:http and node:http2 call the four handlers below from their emitters, where an
  // exception would end the process: each fails its one request or connection instead.

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      this.serveRequest(req, res);
    } catch (err) {
      this.env.internalErrors.report('http1_request', err);
      failUnserved(new Http1Sink(res), res);
    }
  };

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders?: readonly string[]): void => {
    // First, so a reset on any path (even an unknown host's) never becomes an unhandled error.
    stream.on('error', ignoreStreamError);
    try {
      this.serveStream(stream, headers, flags, rawHeaders);
    } catch (err) {
      this.env.internalErrors.report('http2_stream', err);
      failUnserved(new Http2Sink(stream, isGrpcContentType(headers['content-type'])), stream);
    }
  };

  private readonly onConnect = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    try {
      // A tunnel's connection is tracked by the frontend that serves what runs inside it.
      this.tracked.release(socket);
      this.connectHandler!(req, socket, head);
    } catch (err) {
      this.env.internalErrors.report('tunnel_connect', err);
      socket.destroy();
    }
  };

  private readonly onClientError = (err: Error & { code?: string }, socket: Duplex): void => {
    try {
      this.answerClientError(err, socket);
    } catch (thrown) {
      this.env.internalErrors.report('client_error', thrown);
      socket.destroy();
    }
  };

  private serveRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.env.draining()) res.shouldKeepAlive = false;
    const refusal = http1Refusal(req);
    if (refusal) {
      this.refuseHttp1(res, refusal);
      return;
    }
    let target: string | undefined;
    let path = req.url ?? '/';
    if (path.charCodeAt(0) !== 47 /* '/' */ && path !== '*') {
      // Absolute form (HTTP_PROXY): the target names the upstream.
      const parsed = parseAbsoluteTarget(path);
      if (isRefusal(parsed)) {
        this.refuseHttp1(res, badRequest(parsed, `: "${path}"`));
        return;
      }
      target = parsed.authority;
      path = parsed.path;
    }
    const authority = requestAuthority(target, req.headers.host);
    if (typeof authority !== 'string') {
      this.refuseHttp1(res, badRequest(authority, ''));
      return;
    }
    const upstream = this.resolve(authority);
    if (!upstream) {
      this.refuse(new Http1Sink(res), unknownHost(authority));
      return;
    }
    if (!this.env.inFlight.hasRoom) {
      this.refuseOverloaded(new Http1Sink(res));
      return;
    }
    this.env.inFlight.track(res);
    const headers = req.headers;
    const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
    const call = new ProxyCall(upstream, {
      method: req.method ?? 'GET',
      path,
      // A request that names no authority (HTTP/1.0 without Host, on an upstream's own port)
      // is sent with the upstream's name.
      authority: authority || upstream.name,
      headers: endToEndRequestHeaders(req.rawHeaders),
      body: hasBody ? req : null,
      grpc: isGrpcContentType(headers['content-type']),
      sourceAddress: req.socket.remoteAddress ?? '',
      multiplexed: false,
    }, new Http1Sink(res), this.env);
    res.on('close', call.onClientClose);
    call.run();
  }

  private serveStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: readonly string[] | undefined): void {
    this.countStreamsRejectedBefore(stream);
    // Reset by the client before node:http2 emitted it (rapid reset): nothing to answer.
    if (stream.destroyed) return;
    const grpc = isGrpcContentType(headers['content-type']);
    const sink = new Http2Sink(stream, grpc);
    const refusal = http2Refusal(headers, rawHeaders);
    if (refusal) {
      this.refuse(sink, refusal);
      return;
    }
    const authority = requestAuthority(headers[':authority'], headers.host);
    if (typeof authority !== 'string') {
      this.refuse(sink, badRequest(authority, ''));
      return;
    }
    const upstream = this.resolve(authority);
    if (!upstream) {
      this.refuse(sink, unknownHost(authority));
      return;
    }
    if (!this.env.inFlight.hasRoom) {
      this.refuseOverloaded(sink);
      return;
    }
    this.env.inFlight.track(stream);
    const call = new ProxyCall(upstream, {
      method: headers[':method'] ?? 'GET',
      path: headers[':path'] ?? '/',
      authority: authority || upstream.name,
      headers: endToEndFromHttp2(headers),
      body: (flags & HTTP2_FLAG_END_STREAM) !== 0 ? null : stream,
      grpc,
      sourceAddress: stream.session?.socket?.remoteAddress ?? '',
      multiplexed: true,
    }, sink, this.env);
    // onClientClose runs once whichever comes first; `on` spares the wrappers `once` allocates.
    stream.on('close', call.onClientClose);
    // A client's RST_STREAM(NO_ERROR) emits 'aborted' but 'close' only once our writes drain,
    // which may be never; 'aborted' is the reliable sign the client went away.
    stream.on('aborted', call.onClientClose);
    call.run();
  }

  /**
   * nghttp2 resets a malformed request stream (RFC 9113 §8.1.1: a missing or unknown
   * pseudo-header, an upper-case or connection-specific field, too many fields, CONNECT
   * without :authority) before node emits it, and tells nobody. Clients number their streams
   * 1, 3, 5, …, so a gap below the stream seen now is streams refused that way; what a
   * session refused after its last stream is counted when its connection ends.
   */
  private countStreamsRejectedBefore(stream: ServerHttp2Stream): void {
    const session = stream.session;
    if (!session || stream.id === undefined) return;
    this.countRejectedStreams(session, stream.id - 2);
    this.lastStreamIds.set(session, stream.id);
  }

  private countRejectedStreams(session: Http2Session, lastOpened: number): void {
    // One increment whatever the gap: a client may jump to stream 2^31-1 in one frame.
    const rejected = Math.floor((lastOpened - (this.lastStreamIds.get(session) ?? -1)) / 2);
    if (rejected > 0) this.env.metrics.malformedRequest(this.listenerName, 'http2_stream_rejected', rejected);
  }

  private readonly onSession = (session: Http2Session): void => {
    this.tracked.sessionStarted(session);
    session.setLocalWindowSize(this.sessionWindow);
    this.sessions.add(session);
    // The session's state is gone by its 'close'; at the socket's end it is still there.
    session.socket.once('end', () => {
      const lastOpened = session.state.lastProcStreamID;
      if (lastOpened !== undefined) this.countRejectedStreams(session, lastOpened);
    });
    session.once('close', () => this.sessions.delete(session));
    if (this.env.draining()) session.close();
  };

  private readonly onConnectionClosed = (reason: ConnectionCloseReason): void => {
    this.env.metrics.connectionClosed(this.listenerName, reason);
  };

  private readonly onSessionError = (err: Error): void => {
    this.env.metrics.malformedRequest(this.listenerName, 'bad_http2_frame');
    this.env.logger.debug({ err: err.message, listener: this.listenerName }, 'http2 session error');
  };

  private answerClientError(err: Error & { code?: string }, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const shape = clientErrorShape(err);
    this.env.metrics.malformedRequest(this.listenerName, shape.reason);
    if (responseUnderway(socket)) {
      // A bad chunk after the upstream's response began: a status line now would land in the
      // middle of that response's body, so the connection is cut instead.
      socket.destroy();
      return;
    }
    endWithRawResponse(socket, shape.status, shape.text, 'MESHLET_BAD_REQUEST', `${shape.text}: ${err.code ?? err.message}\n`);
  }

  private refuseHttp1(res: ServerResponse, refusal: Refusal): void {
    // What follows a malformed request on the connection cannot be trusted to frame right.
    res.shouldKeepAlive = false;
    this.refuse(new Http1Sink(res), refusal);
  }

  private refuseOverloaded(sink: ResponseSink): void {
    this.env.metrics.requestRefused(this.listenerName, 'overloaded');
    sink.fail(this.overloaded, 'meshlet');
  }

  private refuse(sink: ResponseSink, refusal: Refusal): void {
    this.env.metrics.malformedRequest(this.listenerName, refusal.reason);
    sink.fail(refusal.error, 'meshlet');
  }
}

interface Refusal {
  readonly reason: string;
  readonly error: ProxyError;
}

function badRequest(refusal: AuthorityRefusal, detail: string): Refusal {
  return { reason: refusal.reason, error: new ProxyError('MESHLET_BAD_REQUEST', refusal.message + detail) };
}

function unknownHost(authority: string): Refusal {
  return { reason: 'unknown_host', error: new ProxyError('MESHLET_UNKNOWN_HOST', `no upstream named "${authority}"`) };
}

function refused(reason: string, status: number, message: string): Refusal {
  return { reason, error: new ProxyError('MESHLET_BAD_REQUEST', message, status) };
}

/** What node:http parses and passes on but the agent does not serve (RFC 9112 §2.3, §3.2). */
function http1Refusal(req: IncomingMessage): Refusal | undefined {
  if (req.httpVersionMajor !== 1) {
    // llhttp reads a request line without a version, or with HTTP/0.9, as 0.9, and lets
    // "HTTP/2.0" through; other versions it refuses itself (onClientError).
    return req.httpVersionMajor === 0
      ? refused('http09', 400, 'HTTP/0.9 requests are not served')
      : refused('unsupported_version', 505, `HTTP/${req.httpVersion} in a request line is not served; HTTP/2 starts with its connection preface`);
  }
  const raw = req.rawHeaders;
  if (http1HasTooManyHeaders(raw)) return refused('too_many_headers', 431, `more than ${MAX_REQUEST_HEADERS} header fields`);
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
  if (hosts > 1) return refused('duplicate_host', 400, 'more than one Host header');
  if (hosts === 0 && req.httpVersionMinor === 1) return refused('missing_host', 400, 'an HTTP/1.1 request needs a Host header');
  return undefined;
}

/** What nghttp2 passes on but the agent does not serve. */
function http2Refusal(headers: IncomingHttpHeaders, rawHeaders: readonly string[] | undefined): Refusal | undefined {
  if (rawHeaders && http2HasTooManyHeaders(rawHeaders)) return refused('too_many_headers', 431, `more than ${MAX_REQUEST_HEADERS} header fields`);
  // Tunnels are opened with HTTP/1.1 CONNECT on the proxy port; over HTTP/2 the request
  // would be forwarded as if it were an ordinary one.
  if (headers[':method'] === 'CONNECT') return refused('http2_connect', 400, 'CONNECT over HTTP/2 is not served; use HTTP/1.1 CONNECT on the proxy port');
  return undefined;
}

/** Whether a response has begun on this HTTP/1.1 socket (node's own clientError default reads the same field). */
function responseUnderway(socket: Duplex): boolean {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true;
}

/** A request that failed before its call could: 502, or a reset once its response began. */
function failUnserved(sink: ResponseSink, stream: { destroy(): void }): void {
  try {
    sink.fail(new ProxyError('MESHLET_BAD_UPSTREAM_RESPONSE', 'internal error'), 'meshlet');
  } catch {
    stream.destroy();
  }
}

function ignoreStreamError(): void {
  // The call sees the stream close and records the outcome; the error itself needs no handling.
}
