// The client connections of one frontend, each in one phase: `head` (waiting for a request
// head), `idle` (HTTP/1.1 keep-alive, an HTTP/2 session without streams) or `busy`. One sweep
// timer per frontend, not a timer per request, enforces the listeners' timeouts: Node enforces
// headersTimeout only for servers that listen() themselves, and these never do. Activity is read
// from the socket's byte counter at each sweep, so the request path pays nothing for it.
// HTTP/1.1 requests of one connection run one at a time, in order (pipelining never fans out),
// and HTTP/2 sessions whose client resets most streams before a response (rapid reset,
// CVE-2023-44487) are closed.

import http2, { type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../../clock.ts';
import type { ListenersConfig } from '../../config/types.ts';
import { endWithRawResponse } from './raw-response.ts';

export type ConnectionCloseReason = 'headers_timeout' | 'idle_timeout' | 'body_idle_timeout' | 'evicted' | 'rapid_reset' | 'pipeline_overflow';

/** Pipelined HTTP/1.1 requests held behind the one in progress; more closes the connection. */
export const MAX_PIPELINED = 32;
/** Envoy's rule, with a smaller count: judge a session after this many streams... */
const RAPID_RESET_MIN_STREAMS = 100;
/** ...and close it when more than half of them were reset by the client before any response. */
const RAPID_RESET_RATIO = 0.5;

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR } = http2.constants;
const HTTP2_FLAG_END_STREAM = 0x1;
const kConnection = Symbol('meshlet.clientConnection');

type Phase = 'head' | 'idle' | 'busy';
type Tagged<T> = T & { [kConnection]?: ClientConnection };

class ClientConnection {
  phase: Phase = 'head';
  /** When the phase began. */
  since: number;
  lastReadAt: number;
  bytesRead = 0;
  session: Http2Session | undefined;
  /** HTTP/1.1: the request in progress and its response, and those pipelined behind it. */
  request: IncomingMessage | undefined;
  response: ServerResponse | undefined;
  readonly pipelined: [IncomingMessage, ServerResponse][] = [];
  overflowed = false;
  /** HTTP/2: open streams, those still receiving a request body, and the rapid-reset tally. */
  streams = 0;
  readonly uploads = new Set<ServerHttp2Stream>();
  opened = 0;
  prematureResets = 0;

  constructor(
    readonly tracker: ClientConnections,
    readonly socket: Duplex & { bytesRead?: number },
    now: number,
  ) {
    this.since = now;
    this.lastReadAt = now;
  }

  get receivingBody(): boolean {
    return this.uploads.size > 0 || (this.request !== undefined && !this.request.complete);
  }
}

export class ClientConnections {
  private readonly all = new Set<ClientConnection>();
  /** Connections without a request in progress, longest waiting first: what eviction takes. */
  private readonly waiting = new Set<ClientConnection>();
  private readonly sweepEveryMs: number;
  private timer: TimerHandle | undefined;
  private handingOver: ClientConnection | undefined;

  constructor(
    private readonly limits: ListenersConfig,
    private readonly clock: Clock,
    private readonly serveHttp1: (req: IncomingMessage, res: ServerResponse) => void,
    private readonly closed: (reason: ConnectionCloseReason) => void,
  ) {
    // A quarter of the shortest timeout, so none runs more than 25 % late.
    const shortest = Math.min(limits.headersTimeout, limits.idleTimeout, limits.bodyIdleTimeout);
    this.sweepEveryMs = Math.min(1000, Math.max(25, shortest / 4));
  }

  get size(): number {
    return this.all.size;
  }

  /** A new connection, before its protocol is known: the headers timeout runs from now. */
  adopt(socket: Duplex): void {
    const connection = new ClientConnection(this, socket, this.clock.now());
    (socket as Tagged<Duplex>)[kConnection] = connection;
    this.all.add(connection);
    this.waiting.add(connection);
    socket.once('close', onSocketClose);
    this.armSweep();
  }

  /** A CONNECT tunnel: the frontend that serves the tunnel's inside tracks it from now on. */
  release(socket: Duplex): void {
    const connection = connectionOf(socket);
    if (connection) this.forget(connection);
  }

  /** Call right before handing the socket to the HTTP/2 server, whose 'session' follows at once. */
  expectSession(socket: Duplex): void {
    this.handingOver = connectionOf(socket);
  }

  sessionStarted(session: Http2Session): void {
    const connection = this.handingOver;
    this.handingOver = undefined;
    if (!connection) return;
    connection.session = session;
    (session as Tagged<Http2Session>)[kConnection] = connection;
    // A client preface and SETTINGS make a session that is merely idle, no longer one that stalls.
    session.once('remoteSettings', onRemoteSettings);
    // The session's own event, since a stream the client has reset already has no session.
    session.on('stream', onSessionStream);
  }

  /** Every HTTP/1.1 request passes here: one per connection at a time, the rest wait in order. */
  readonly onHttp1Request = (req: IncomingMessage, res: ServerResponse): void => {
    const connection = connectionOf(req.socket);
    if (!connection) {
      this.serveHttp1(req, res);
      return;
    }
    if (connection.request === undefined) {
      this.startHttp1(connection, req, res);
      return;
    }
    if (connection.pipelined.length < MAX_PIPELINED) {
      connection.pipelined.push([req, res]);
      return;
    }
    // Those already waiting are answered, in order; then the connection closes. Until then,
    // further requests are left unanswered and reading stops.
    connection.overflowed = true;
    req.socket.pause();
  };

  http2StreamOpened(connection: ClientConnection, stream: ServerHttp2Stream, flags: number): void {
    connection.opened++;
    // node:http2 emits 'stream' a tick after HEADERS, so a RST_STREAM in the same read has come first.
    if (stream.destroyed) {
      this.prematureReset(connection);
      return;
    }
    (stream as Tagged<ServerHttp2Stream>)[kConnection] = connection;
    connection.streams++;
    this.enter(connection, 'busy');
    // Each is emitted once at most: `on` spares the wrapper `once` allocates per stream.
    stream.on('close', onStreamClose);
    // 'aborted' follows the client's RST_STREAM at once; 'close' may wait for our writes.
    stream.on('aborted', onStreamAborted);
    if ((flags & HTTP2_FLAG_END_STREAM) === 0) {
      connection.uploads.add(stream);
      stream.once('end', onUploadEnd);
    }
  }

  /** Makes room for a new connection by closing the one that has waited longest without a request. */
  evictWaiting(): boolean {
    for (const connection of this.waiting) {
      this.close(connection, 'evicted');
      return true;
    }
    return false;
  }

  private startHttp1(connection: ClientConnection, req: IncomingMessage, res: ServerResponse): void {
    connection.request = req;
    connection.response = res;
    this.enter(connection, 'busy');
    (res as Tagged<ServerResponse>)[kConnection] = connection;
    res.on('close', onHttp1ResponseClose);
    this.serveHttp1(req, res);
  }

  http1ResponseEnded(connection: ClientConnection): void {
    if (connection.pipelined.length > 0 && !connection.socket.destroyed) {
      // On the next turn: undici hands the upstream connection back only after the response
      // that just ended, so a request sent now would open a second one. The ended request
      // stays the current one until then, so a request arriving meanwhile queues behind.
      setImmediate(startNextPipelined, connection);
      return;
    }
    connection.request = undefined;
    connection.response = undefined;
    connection.pipelined.length = 0;
    if (connection.socket.destroyed) return;
    if (connection.overflowed) this.close(connection, 'pipeline_overflow');
    else this.enter(connection, 'idle');
  }

  startNextPipelined(connection: ClientConnection): void {
    const next = connection.pipelined.shift();
    if (!next || connection.socket.destroyed) {
      this.http1ResponseEnded(connection);
      return;
    }
    this.startHttp1(connection, next[0], next[1]);
  }

  http2StreamEnded(connection: ClientConnection, stream: ServerHttp2Stream): void {
    connection.uploads.delete(stream);
    connection.streams--;
    if (connection.streams === 0 && this.all.has(connection)) this.enter(connection, 'idle');
  }

  /** A client reset before any response is a premature reset; a session made mostly of them is an attack. */
  http2StreamAborted(connection: ClientConnection, stream: ServerHttp2Stream): void {
    if (!stream.headersSent) this.prematureReset(connection);
  }

  private prematureReset(connection: ClientConnection): void {
    connection.prematureResets++;
    if (connection.opened >= RAPID_RESET_MIN_STREAMS && connection.prematureResets > connection.opened * RAPID_RESET_RATIO && this.all.has(connection)) {
      this.close(connection, 'rapid_reset');
    }
  }

  http2Settled(connection: ClientConnection): void {
    if (connection.phase === 'head') this.enter(connection, 'idle');
  }

  forget(connection: ClientConnection): void {
    this.all.delete(connection);
    this.waiting.delete(connection);
    connection.pipelined.length = 0;
    connection.uploads.clear();
    if (this.all.size === 0) this.disarmSweep();
  }

  private enter(connection: ClientConnection, phase: Phase): void {
    if (connection.phase === phase) return;
    const now = this.clock.now();
    connection.phase = phase;
    connection.since = now;
    // Only bytes that arrive from now on are a sign of the next request; those read since the
    // last sweep are still the client's latest read. Dropped unrecorded, they left a busy
    // connection, whose reads all fall between a phase change and the next sweep, looking
    // silent since the first sweep: its uploads were then cancelled as stalled.
    const read = connection.socket.bytesRead ?? 0;
    if (read !== connection.bytesRead) connection.lastReadAt = now;
    connection.bytesRead = read;
    this.waiting.delete(connection);
    if (phase !== 'busy') this.waiting.add(connection);
  }

  private close(connection: ClientConnection, reason: ConnectionCloseReason): void {
    this.closed(reason);
    this.forget(connection);
    const session = connection.session;
    if (session && reason === 'idle_timeout') session.close();
    else if (session) session.destroy(undefined, reason === 'rapid_reset' ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_NO_ERROR);
    else if ((reason === 'headers_timeout' || reason === 'body_idle_timeout') && connection.response?.headersSent !== true) this.answerTimedOut(connection.socket, reason);
    else connection.socket.destroy();
  }

  /** As nginx and Envoy do: the client learns why, instead of reading a bare close as a crash. */
  private answerTimedOut(socket: Duplex, reason: 'headers_timeout' | 'body_idle_timeout'): void {
    const waited = reason === 'headers_timeout' ? `no complete request head within ${this.limits.headersTimeout}ms` : `no byte of the request body for ${this.limits.bodyIdleTimeout}ms`;
    endWithRawResponse(socket, 408, 'Request Timeout', 'MESHLET_BAD_REQUEST', `Request Timeout: ${waited}\n`);
    // Closed once the answer is out, so a client that never closes its side holds nothing.
    socket.once('finish', destroySocket);
  }

  private armSweep(): void {
    if (this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(this.sweep, this.sweepEveryMs);
    this.timer.unref();
  }

  private disarmSweep(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    const { headersTimeout, idleTimeout, bodyIdleTimeout } = this.limits;
    for (const connection of this.all) {
      const read = connection.socket.bytesRead ?? 0;
      if (read !== connection.bytesRead) {
        connection.bytesRead = read;
        connection.lastReadAt = now;
        // The next request on a kept-alive HTTP/1.1 connection has begun: its head must be complete in time.
        if (connection.phase === 'idle' && !connection.session) {
          connection.phase = 'head';
          connection.since = now;
        }
      }
      const inPhase = now - connection.since;
      if (connection.phase === 'head' && inPhase >= headersTimeout) this.close(connection, 'headers_timeout');
      else if (connection.phase === 'idle' && inPhase >= idleTimeout) this.close(connection, 'idle_timeout');
      else if (connection.phase === 'busy' && now - connection.lastReadAt >= bodyIdleTimeout && connection.receivingBody) this.stalled(connection);
    }
    if (this.all.size > 0) this.armSweep();
  };

  /** No byte from the client for bodyIdleTimeout while a request body is incomplete. */
  private stalled(connection: ClientConnection): void {
    if (!connection.session) {
      this.close(connection, 'body_idle_timeout');
      return;
    }
    this.closed('body_idle_timeout');
    for (const stream of connection.uploads) stream.close(NGHTTP2_CANCEL);
    connection.uploads.clear();
  }
}

function connectionOf(holder: object): ClientConnection | undefined {
  return (holder as Tagged<object>)[kConnection];
}

// Listeners shared by every connection, stream and response (no closure per request): `this`
// is the emitter, which carries its connection.

function destroySocket(this: Duplex): void {
  this.destroy();
}

function onSocketClose(this: Duplex): void {
  const connection = connectionOf(this);
  if (connection) connection.tracker.forget(connection);
}

function onRemoteSettings(this: Http2Session): void {
  const connection = connectionOf(this);
  if (connection) connection.tracker.http2Settled(connection);
}

function onHttp1ResponseClose(this: ServerResponse): void {
  const connection = connectionOf(this);
  if (connection) connection.tracker.http1ResponseEnded(connection);
}

function startNextPipelined(connection: ClientConnection): void {
  connection.tracker.startNextPipelined(connection);
}

function onStreamClose(this: ServerHttp2Stream): void {
  const connection = connectionOf(this);
  if (connection) connection.tracker.http2StreamEnded(connection, this);
}

function onSessionStream(this: Http2Session, stream: ServerHttp2Stream, _headers: unknown, flags: number): void {
  const connection = connectionOf(this);
  if (connection) connection.tracker.http2StreamOpened(connection, stream, flags);
}

function onStreamAborted(this: ServerHttp2Stream): void {
  const connection = connectionOf(this);
  if (connection) connection.tracker.http2StreamAborted(connection, this);
}

function onUploadEnd(this: ServerHttp2Stream): void {
  connectionOf(this)?.uploads.delete(this);
}
