// Finds upstream HTTP/2 sessions that stopped working without a word. On some connection
// errors (a RST_STREAM of the wrong length, a CONTINUATION with no HEADERS before it) nghttp2
// queues a GOAWAY, stops reading and writing the socket, and node:http2 emits nothing: the
// session looks open, its streams and every request sent on it after wait for policy.timeout.

import type { ClientHttp2Session } from 'node:http2';
import type { Clock, TimerHandle } from '../../clock.ts';

/** Classified as MESHLET_BAD_UPSTREAM_RESPONSE: node's own code for a protocol error. */
const abandonedByNghttp2 = Object.assign(
  new Error('the upstream broke HTTP/2 and the session was given up (a PING could not be sent)'),
  { code: 'ERR_HTTP2_ERROR' },
);
const upstreamSilent = new Error('the upstream stopped answering on this HTTP/2 session (no PING ACK)');

/**
 * A session quiet for `quietMs` while it has streams open is sent a PING; one that gets no ACK
 * within `quietMs` more is destroyed, which fails its streams at once. A PING still in the
 * outbound queue then never left: nghttp2 gave the session up over the upstream's frames.
 */
export class SessionLiveness {
  private openStreams = 0;
  private pingTimer: TimerHandle | undefined;

  constructor(
    private readonly session: ClientHttp2Session,
    private readonly quietMs: number,
    private readonly clock: Clock,
  ) {
    session.setTimeout(quietMs, this.onQuiet);
    session.once('close', this.stop);
  }

  streamOpened(): void {
    this.openStreams++;
  }

  streamClosed(): void {
    this.openStreams--;
  }

  private readonly onQuiet = (): void => {
    if (this.openStreams === 0 || this.pingTimer !== undefined || this.session.destroyed) return;
    try {
      this.session.ping(this.onPingAnswered);
    } catch {
      // Too many PINGs outstanding or the session is closing: its streams end by themselves.
      return;
    }
    this.pingTimer = this.clock.setTimeout(this.onNoAnswer, this.quietMs);
  };

  private readonly onPingAnswered = (): void => {
    this.stop();
  };

  private readonly onNoAnswer = (): void => {
    this.pingTimer = undefined;
    if (this.session.destroyed) return;
    // Bytes still waiting in the socket mean the upstream's TCP window is full: it is slow to
    // read (a stalled upload), not gone, and policy.timeout is the judge of that.
    if (this.session.socket.writableLength > 0) {
      this.pingTimer = this.clock.setTimeout(this.onNoAnswer, this.quietMs);
      return;
    }
    this.session.destroy((this.session.state.outboundQueueSize ?? 0) > 0 ? abandonedByNghttp2 : upstreamSilent);
  };

  private readonly stop = (): void => {
    if (this.pingTimer !== undefined) this.clock.clearTimeout(this.pingTimer);
    this.pingTimer = undefined;
  };
}
