// The HTTP side a client talks to: one node:http server and one node:http2 server that own
// no port themselves. Listeners (and CONNECT tunnels) hand them sockets after sniffing the
// protocol; every request is resolved to an upstream and run as a ProxyCall.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { MeshletMetrics } from '../observability/metrics.ts';
import { ProxyError } from './errors.ts';
import { endToEndFromHttp2, endToEndRequestHeaders, isGrpcContentType } from './headers.ts';
import { Http1Sink } from './http1-sink.ts';
import { Http2Sink } from './http2-sink.ts';
import { ProxyCall, type CallEnvironment } from './proxy-call.ts';
import { endWithRawResponse } from './raw-response.ts';
import type { UpstreamRuntime } from './upstream.ts';

const HTTP2_FLAG_END_STREAM = 0x1;

/** Finds the upstream for a request's authority; a fixed-upstream listener ignores it. */
export type UpstreamResolver = (authority: string) => UpstreamRuntime | undefined;

/** Takes over an HTTP/1.1 CONNECT request's socket (the proxy listener's tunnels). */
export type ConnectHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface FrontendEnvironment extends CallEnvironment {
  readonly metrics: MeshletMetrics;
  readonly logger: Logger;
  /** Read per request: once draining, HTTP/1.1 responses close their connection. */
  readonly draining: () => boolean;
}

/** Maps HTTP parser errors to the status a client gets and the metric reason. */
function clientErrorShape(code: string | undefined): { status: number; text: string; reason: string } {
  switch (code) {
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

export class HttpFrontend {
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly sessions = new Set<Http2Session>();
  /**
   * HTTP/1.1 connections, tracked here because node:http tracks connections (and so
   * closeIdleConnections/closeAllConnections work) only for a server that listens itself.
   */
  private readonly connections = new Set<Duplex>();

  constructor(
    private readonly listenerName: string,
    private readonly resolve: UpstreamResolver,
    private readonly env: FrontendEnvironment,
    onConnect?: ConnectHandler,
  ) {
    this.h1 = http.createServer({ requestTimeout: 0, keepAliveTimeout: 60_000 }, this.onRequest);
    this.h1.on('clientError', this.onClientError);
    if (onConnect) this.h1.on('connect', onConnect);
    this.h2 = http2.createServer({ settings: { initialWindowSize: 16 * 1024 * 1024 } });
    this.h2.on('stream', this.onStream);
    this.h2.on('session', this.onSession);
    this.h2.on('sessionError', this.onSessionError);
  }

  /** Serves a connection whose first bytes are still unread in the socket's buffer. */
  acceptHttp1(socket: Duplex): void {
    this.connections.add(socket);
    socket.once('close', () => this.connections.delete(socket));
    this.h1.emit('connection', socket);
  }

  acceptHttp2(socket: Duplex): void {
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

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.env.draining()) res.shouldKeepAlive = false;
    let authority = req.headers.host ?? '';
    let path = req.url ?? '/';
    if (path.charCodeAt(0) !== 47 /* '/' */ && path !== '*') {
      // Absolute form (HTTP_PROXY): the target names the upstream.
      const parsed = parseAbsoluteTarget(path);
      if (!parsed) {
        this.rejectHttp1(res, 'MESHLET_BAD_REQUEST', `cannot parse request target "${path}"`, 'bad_request');
        return;
      }
      authority = parsed.authority;
      path = parsed.path;
    }
    const upstream = this.resolve(authority);
    if (!upstream) {
      this.rejectHttp1(res, 'MESHLET_UNKNOWN_HOST', `no upstream named "${authority}"`, 'unknown_host');
      return;
    }
    const headers = req.headers;
    const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
    const call = new ProxyCall(upstream, {
      method: req.method ?? 'GET',
      path,
      authority,
      headers: endToEndRequestHeaders(req.rawHeaders),
      body: hasBody ? req : null,
      grpc: isGrpcContentType(headers['content-type']),
      sourceAddress: req.socket.remoteAddress ?? '',
    }, new Http1Sink(res), this.env);
    res.once('close', call.onClientClose);
    call.run();
  };

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number): void => {
    // First, so a reset on any path (even an unknown host's) never becomes an unhandled error.
    stream.on('error', ignoreStreamError);
    const authority = headers[':authority'] ?? headers.host ?? '';
    const grpc = isGrpcContentType(headers['content-type']);
    const sink = new Http2Sink(stream, grpc);
    const upstream = this.resolve(authority);
    if (!upstream) {
      this.env.metrics.malformedRequest(this.listenerName, 'unknown_host');
      sink.fail(new ProxyError('MESHLET_UNKNOWN_HOST', `no upstream named "${authority}"`), 'meshlet');
      return;
    }
    const call = new ProxyCall(upstream, {
      method: headers[':method'] ?? 'GET',
      path: headers[':path'] ?? '/',
      authority,
      headers: endToEndFromHttp2(headers),
      body: (flags & HTTP2_FLAG_END_STREAM) !== 0 ? null : stream,
      grpc,
      sourceAddress: stream.session?.socket?.remoteAddress ?? '',
    }, sink, this.env);
    stream.once('close', call.onClientClose);
    // A client's RST_STREAM(NO_ERROR) emits 'aborted' but 'close' only once our writes drain,
    // which may be never; 'aborted' is the reliable sign the client went away.
    stream.once('aborted', call.onClientClose);
    call.run();
  };

  private readonly onSession = (session: Http2Session): void => {
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    if (this.env.draining()) session.close();
  };

  private readonly onSessionError = (err: Error): void => {
    this.env.metrics.malformedRequest(this.listenerName, 'bad_http2_frame');
    this.env.logger.debug({ err: err.message, listener: this.listenerName }, 'http2 session error');
  };

  private readonly onClientError = (err: Error & { code?: string }, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const shape = clientErrorShape(err.code);
    this.env.metrics.malformedRequest(this.listenerName, shape.reason);
    if (responseUnderway(socket)) {
      // A bad chunk after the upstream's response began: a status line now would land in the
      // middle of that response's body, so the connection is cut instead.
      socket.destroy();
      return;
    }
    endWithRawResponse(socket, shape.status, shape.text, 'MESHLET_BAD_REQUEST', `${shape.text}: ${err.code ?? err.message}\n`);
  };

  private rejectHttp1(res: ServerResponse, code: 'MESHLET_UNKNOWN_HOST' | 'MESHLET_BAD_REQUEST', message: string, reason: string): void {
    this.env.metrics.malformedRequest(this.listenerName, reason);
    new Http1Sink(res).fail(new ProxyError(code, message), 'meshlet');
  }
}

/** Whether a response has begun on this HTTP/1.1 socket (node's own clientError default reads the same field). */
function responseUnderway(socket: Duplex): boolean {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true;
}

function ignoreStreamError(): void {
  // The call sees the stream close and records the outcome; the error itself needs no handling.
}

function parseAbsoluteTarget(target: string): { authority: string; path: string } | undefined {
  const schemeEnd = target.indexOf('://');
  if (schemeEnd < 0) return undefined;
  const authorityStart = schemeEnd + 3;
  const pathStart = target.indexOf('/', authorityStart);
  const authority = target.slice(authorityStart, pathStart < 0 ? undefined : pathStart);
  if (!authority) return undefined;
  return { authority, path: pathStart < 0 ? '/' : target.slice(pathStart) };
}

