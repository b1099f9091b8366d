// The agent's end of Control.Connect: one stream to the control plane for as long as the agent
// runs. Each stream opens with Hello; every snapshot the server sends (at once if it has a
// policy, and each new one) is applied one at a time, the newest waiting one next, and answered
// with ACK or NACK; reports go out on the same stream once its channel is connected.
// A stream that fails or ends is opened again after a full-jitter backoff (base 500 ms, cap
// 30 s) on a fresh channel, so grpc-js's own reconnect backoff never stacks on ours. Nothing
// here is on the request path: while no stream is up the agent runs on what it has.
//
// With several replicas (control.address "a:7950,b:7950"), each attempt goes to the next one
// in turn, except that a follower's answer (UNAVAILABLE with trailer meshlet-leader) sends the
// next attempt straight to the leader it names, after at most HINT_FOLLOW_MS. A named leader
// means the control plane is up and only changing hands, so it also starts the backoff again
// from its base: an agent whose leader died keeps trying every few hundred milliseconds and is
// on the new leader within about the lease TTL, instead of waiting out a grown backoff.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Clock, Random, TimerHandle } from '../clock.ts';
import { fullJitterMs } from '../resilience/retry-delay.ts';
import { leaderHint } from './leadership.ts';
import { bearerMetadata, createControlClient, type AgentMessageOut, type AgentReport, type ControlClient as ControlStub, type ControlMessage, type FieldError, type Hello, type PolicySnapshot } from './control-proto.ts';

export const RECONNECT_BASE_MS = 500;
export const RECONNECT_CAP_MS = 30_000;
/** Going to the leader a follower named waits at most this long (jittered, so agents spread out). */
export const HINT_FOLLOW_MS = 100;
/** A channel not connected this long after a stream was opened is given up (a host that drops SYNs). */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * A stream counts as having worked, so the backoff starts again from its base, once a snapshot
 * came on it or it stayed open this long (a control plane with no policy yet sends nothing).
 */
export const STABLE_STREAM_MS = 10_000;
/** A snapshot is configuration: far below grpc-js's 4 MiB default, but bounded all the same. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export type ApplyVerdict = { readonly ok: true } | { readonly ok: false; readonly errors: readonly FieldError[] };

export interface ControlClientOptions {
  /** "host:port" of each `meshlet control` replica (one, or several sharing etcd), tried in turn. */
  readonly addresses: readonly string[];
  /** Sent as `authorization: Bearer <token>` on the stream. */
  readonly token?: string;
  readonly credentials: grpc.ChannelCredentials;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  /** Built each time a stream opens: the policy version in force changes between streams. */
  hello(): Hello;
  /** Applies a snapshot; resolves with the verdict (a rejection is a NACK naming the error). */
  apply(snapshot: PolicySnapshot): Promise<ApplyVerdict>;
  /** A stream is up (its channel connected): a good moment for a full report. */
  onConnected?(): void;
}

/**
 * Channel settings: keepalive finds a control plane that vanished without closing its sockets;
 * a subchannel of the channel's own (not grpc-js's process-wide pool, which would carry the last
 * failed connection's backoff into the next channel) makes each attempt a real connect.
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.keepalive_time_ms': 15_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};

type ConnectCall = grpc.ClientDuplexStream<AgentMessageOut, ControlMessage>;

export class ControlClient {
  private client: ControlStub | undefined;
  private call: ConnectCall | undefined;
  /** The stream's channel is connected: ACKs and reports can go out. */
  private established = false;
  /** Failed attempts in a row since the last stream that worked: the backoff's exponent. */
  private failures = 0;
  private retryTimer: TimerHandle | undefined;
  /** While connecting: gives up at CONNECT_TIMEOUT_MS; once connected: resets the backoff at STABLE_STREAM_MS. */
  private streamTimer: TimerHandle | undefined;
  private stopped = false;
  /** Where the current (or last) stream went. */
  private target: string;
  /** Where the next attempt goes instead of the next replica in turn: a leader a follower named. */
  private hinted: string | undefined;
  /** The newest snapshot not yet applied, and whether an apply is running. */
  private pending: PolicySnapshot | undefined;
  private applying = false;

  constructor(private readonly options: ControlClientOptions) {
    if (options.addresses.length === 0) throw new Error('the control client needs at least one address');
    this.target = options.addresses[0]!;
  }

  get connected(): boolean {
    return this.established;
  }

  start(): void {
    this.open();
  }

  /** Writes a report if a stream is up and not backed up; returns whether it was sent. */
  report(report: AgentReport): boolean {
    if (!this.established || !this.call) return false;
    return this.write(this.call, { report });
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) this.options.clock.clearTimeout(this.retryTimer);
    this.close();
  }

  private open(): void {
    this.retryTimer = undefined;
    if (this.stopped) return;
    const address = this.hinted ?? this.target;
    this.target = address;
    const client = createControlClient(address, this.options.credentials, CHANNEL_OPTIONS);
    const call = client.Connect(this.options.token === undefined ? new grpc.Metadata() : bearerMetadata(this.options.token));
    this.client = client;
    this.call = call;
    this.established = false;
    call.on('data', (message: ControlMessage) => this.received(call, message));
    call.on('error', (err: grpc.ServiceError) => this.ended(call, `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`, err.code, leaderHint(err.metadata)));
    call.on('end', () => this.ended(call, 'the server ended the stream'));
    this.streamTimer = this.options.clock.setTimeout(() => this.ended(call, `not connected within ${CONNECT_TIMEOUT_MS} ms`), CONNECT_TIMEOUT_MS);
    client.waitForReady(Infinity, (err) => {
      if (!err && call === this.call) this.channelReady(call);
    });
    this.write(call, { hello: this.options.hello() });
  }

  private channelReady(call: ConnectCall): void {
    this.established = true;
    this.clearStreamTimer();
    this.streamTimer = this.options.clock.setTimeout(() => this.worked(call), STABLE_STREAM_MS);
    this.options.logger.info({ control: this.target }, 'control plane connected');
    this.options.onConnected?.();
  }

  private worked(call: ConnectCall): void {
    if (call !== this.call) return;
    this.failures = 0;
    this.hinted = undefined;
  }

  private received(call: ConnectCall, message: ControlMessage): void {
    if (call !== this.call || message.kind !== 'snapshot') return;
    this.worked(call);
    this.pending = message.snapshot;
    void this.applyPending();
  }

  /** One apply at a time; a snapshot that arrives meanwhile replaces any still waiting. */
  private async applyPending(): Promise<void> {
    if (this.applying) return;
    this.applying = true;
    try {
      while (this.pending !== undefined) {
        const snapshot = this.pending;
        this.pending = undefined;
        const verdict = await this.options.apply(snapshot).catch((err: unknown): ApplyVerdict => ({ ok: false, errors: [{ path: '', message: `the agent could not apply it: ${(err as Error).message}` }] }));
        // A stream opened since gets the current snapshot again and answers that one.
        const call = this.call;
        if (!this.established || call === undefined) continue;
        if (verdict.ok) this.write(call, { ack: { version: snapshot.version } });
        else this.write(call, { nack: { version: snapshot.version, errors: verdict.errors.map((e) => ({ path: e.path, message: e.message })) } });
      }
    } finally {
      this.applying = false;
    }
  }

  private ended(call: ConnectCall, why: string, code?: grpc.status, leader?: string): void {
    if (call !== this.call) return;
    const wasUp = this.established;
    this.close();
    if (this.stopped) return;
    const failed = this.target;
    const delay = this.nextAttempt(failed, leader);
    const refused = code === grpc.status.UNAUTHENTICATED || code === grpc.status.PERMISSION_DENIED;
    const fields = { control: failed, why, retryInMs: Math.round(delay), ...(this.hinted !== undefined ? { leader: this.hinted } : {}) };
    if (refused) this.options.logger.error(fields, 'control plane refused this agent (check control.token)');
    else this.options.logger.warn(fields, wasUp ? 'control plane stream lost: running on the policy in force' : 'control plane unreachable: running on the policy in force');
    this.retryTimer = this.options.clock.setTimeout(() => this.open(), delay);
  }

  /**
   * Chooses where the next attempt goes and returns how long to wait: the leader a follower
   * named (once; if it fails too, the turn goes on), else the replica after the one that failed.
   */
  private nextAttempt(failed: string, leader: string | undefined): number {
    const { addresses, random } = this.options;
    if (leader !== undefined && this.hinted === undefined) {
      this.failures = 0;
      this.hinted = leader;
      return leader === failed ? fullJitterMs(0, RECONNECT_BASE_MS, RECONNECT_CAP_MS, random) : random() * HINT_FOLLOW_MS;
    }
    this.hinted = undefined;
    const at = addresses.indexOf(failed);
    this.target = addresses[(at + 1) % addresses.length]!;
    const delay = fullJitterMs(this.failures, RECONNECT_BASE_MS, RECONNECT_CAP_MS, random);
    this.failures += 1;
    return delay;
  }

  private write(call: ConnectCall, message: AgentMessageOut): boolean {
    try {
      return call.write(message);
    } catch (err) {
      // A write after the stream failed: 'error' has been or will be emitted for it.
      this.options.logger.debug({ err: (err as Error).message }, 'control stream write failed');
      return false;
    }
  }

  private clearStreamTimer(): void {
    if (this.streamTimer) this.options.clock.clearTimeout(this.streamTimer);
    this.streamTimer = undefined;
  }

  private close(): void {
    this.clearStreamTimer();
    this.established = false;
    const call = this.call;
    this.call = undefined;
    call?.removeAllListeners('data');
    call?.on('error', () => undefined);
    call?.cancel();
    this.client?.close();
    this.client = undefined;
  }
}
