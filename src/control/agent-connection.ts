// One agent's Connect stream: Hello first (within helloTimeoutMs, else refused), then the
// current snapshot at once and every new one, ACK/NACK per snapshot and reports. What the
// agent sends is checked before it touches state: a message out of order, an ACK of a version
// never sent, a report beyond the limits, each is refused and changes nothing.
import * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../clock.ts';
import type { Logger } from '../observability/logger.ts';
import { statusOf, type AgentRecord, type AgentRegistry, type AgentSession } from './agent-registry.ts';
import type { AgentMessage, AgentReport, ControlMessage, FieldError, Hello, MeshEvent, Nack, PolicySnapshot } from './control-proto.ts';
import type { ControlMetrics, StreamRefusal } from './control-metrics.ts';
import type { MeshWatchers } from './mesh-watchers.ts';
import { reportChanges } from './report-changes.ts';

export interface ConnectLimits {
  readonly helloTimeoutMs: number;
  readonly maxReportBreakers: number;
  readonly maxReportEndpoints: number;
  readonly maxReportUpstreams: number;
  readonly maxNackErrors: number;
  /** Node names, paths and messages are cut to this many characters. */
  readonly maxTextChars: number;
}

export const DEFAULT_CONNECT_LIMITS: ConnectLimits = {
  helloTimeoutMs: 10_000,
  maxReportBreakers: 10_000,
  maxReportEndpoints: 10_000,
  maxReportUpstreams: 1_000,
  maxNackErrors: 100,
  maxTextChars: 1_000,
};

export interface ConnectionContext {
  readonly registry: AgentRegistry;
  readonly watchers: MeshWatchers;
  readonly metrics: ControlMetrics;
  readonly clock: Clock;
  readonly wallNow: () => number;
  readonly logger: Logger;
  readonly limits: ConnectLimits;
  /** The current snapshot (version 0: none yet). */
  current(): PolicySnapshot;
  /** Joins (true) or leaves (false) the connections new snapshots are pushed to. */
  track(connection: AgentConnection, joined: boolean): void;
}

type Call = grpc.ServerDuplexStream<AgentMessage, ControlMessage>;

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,252}$/;

export class AgentConnection implements AgentSession {
  private record: AgentRecord | undefined;
  private helloTimer: TimerHandle | undefined;
  private finished = false;
  /** A snapshot waiting for the stream to drain; only the newest is kept. */
  private pending: PolicySnapshot | undefined;
  private draining = false;
  /** The highest version sent on this stream, to check ACKs against. */
  private sentVersion = 0;

  constructor(
    private readonly call: Call,
    private readonly context: ConnectionContext,
    private readonly onHelloSettled: () => void,
  ) {
    this.helloTimer = context.clock.setTimeout(() => {
      this.refuse(grpc.status.DEADLINE_EXCEEDED, `no hello within ${context.limits.helloTimeoutMs} ms of opening Connect`, 'hello_timeout');
    }, context.limits.helloTimeoutMs);
    call.on('data', (message: AgentMessage) => this.receive(message));
    call.on('end', () => this.finish(undefined));
    call.on('cancelled', () => this.finish(undefined));
    call.on('error', () => this.finish(undefined));
    call.on('drain', () => this.drained());
  }

  get node(): string | undefined {
    return this.record?.node;
  }

  /** Sends a snapshot; while the stream is backed up, only the newest waits. */
  push(snapshot: PolicySnapshot): void {
    if (this.finished) return;
    if (this.draining) {
      this.pending = snapshot;
      return;
    }
    this.sentVersion = Math.max(this.sentVersion, snapshot.version);
    this.context.metrics.pushes.inc();
    if (!this.call.write({ kind: 'snapshot', snapshot })) this.draining = true;
  }

  /**
   * Ends the stream: ABORTED when replaced by a newer one, UNAVAILABLE when the server stops or
   * steps down (agents reconnect; `trailers` then say where the leader is).
   */
  close(reason: string, code: grpc.status = grpc.status.ABORTED, trailers?: grpc.Metadata): void {
    this.refuse(code, reason, undefined, trailers);
  }

  private drained(): void {
    this.draining = false;
    const next = this.pending;
    this.pending = undefined;
    if (next) this.push(next);
  }

  private receive(message: AgentMessage): void {
    if (this.finished) return;
    const record = this.record;
    if (record === undefined) {
      if (message.kind !== 'hello') return this.refuse(grpc.status.INVALID_ARGUMENT, 'the first message on Connect must be hello', 'no_hello');
      return this.hello(message.hello);
    }
    switch (message.kind) {
      case 'hello':
        return this.refuse(grpc.status.INVALID_ARGUMENT, 'hello may be sent only once per Connect', 'bad_message');
      case 'ack':
        return this.ack(record, message.ack.version);
      case 'nack':
        return this.nack(record, message.nack);
      case 'report':
        return this.report(record, message.report);
      default:
        return this.refuse(grpc.status.INVALID_ARGUMENT, 'an AgentMessage must set one of hello, ack, nack, report', 'bad_message');
    }
  }

  private hello(hello: Hello): void {
    this.settleHello();
    if (!NODE_NAME.test(hello.node)) {
      return this.refuse(grpc.status.INVALID_ARGUMENT, 'hello.node must be 1-253 characters of letters, digits and ._:@- starting with a letter or digit', 'bad_message');
    }
    const cleaned: Hello = {
      node: hello.node,
      version: this.text(hello.version),
      services: hello.services.slice(0, this.context.limits.maxReportUpstreams).map((s) => this.text(s)),
      upstreams: hello.upstreams.slice(0, this.context.limits.maxReportUpstreams).map((s) => this.text(s)),
      policyVersion: hello.policyVersion,
    };
    const result = this.context.registry.connect(cleaned, this);
    if (!result.ok) return this.refuse(grpc.status.RESOURCE_EXHAUSTED, result.reason, 'too_many_agents');
    this.record = result.record;
    this.context.track(this, true);
    this.context.logger.info({ node: cleaned.node, version: cleaned.version, policyVersion: cleaned.policyVersion }, 'agent connected');
    this.publishAgent(result.record);
    const current = this.context.current();
    if (current.version > 0) this.push(current);
  }

  private ack(record: AgentRecord, version: number): void {
    if (version < 1 || version > this.sentVersion) return this.ignore(record, `ack of version ${version}, which this stream was not sent`);
    this.context.metrics.acks.inc();
    this.context.registry.ack(record, version);
    this.publishAgent(record);
  }

  private nack(record: AgentRecord, nack: Nack): void {
    if (nack.version < 1 || nack.version > this.sentVersion) return this.ignore(record, `nack of version ${nack.version}, which this stream was not sent`);
    const errors: FieldError[] = nack.errors.slice(0, this.context.limits.maxNackErrors).map((e) => ({ path: this.text(e.path), message: this.text(e.message) }));
    this.context.metrics.nacks.inc();
    this.context.registry.nack(record, { version: nack.version, errors });
    this.context.logger.warn({ node: record.node, version: nack.version, errors }, 'agent refused a snapshot');
    this.publishAgent(record);
  }

  private report(record: AgentRecord, report: AgentReport): void {
    const { limits } = this.context;
    const over = report.breakers.length > limits.maxReportBreakers ? `${report.breakers.length} breakers (at most ${limits.maxReportBreakers})`
      : report.endpoints.length > limits.maxReportEndpoints ? `${report.endpoints.length} endpoints (at most ${limits.maxReportEndpoints})`
        : report.upstreams.length > limits.maxReportUpstreams ? `${report.upstreams.length} upstreams (at most ${limits.maxReportUpstreams})` : undefined;
    if (over !== undefined) return this.refuse(grpc.status.RESOURCE_EXHAUSTED, `the report names ${over}; it was not stored`, 'report_too_large');
    this.context.metrics.reports.inc();
    const previous = this.context.registry.report(record, report);
    const at = this.context.wallNow();
    for (const event of reportChanges(record.node, previous, report, at)) this.context.watchers.publish(event);
  }

  private ignore(record: AgentRecord, what: string): void {
    this.context.metrics.refused('bad_message');
    this.context.logger.warn({ node: record.node }, `ignored ${what}`);
  }

  private publishAgent(record: AgentRecord): void {
    const event: MeshEvent = { atMs: this.context.wallNow(), node: record.node, kind: 'agent', agent: statusOf(record, false) };
    this.context.watchers.publish(event);
  }

  private text(value: string): string {
    return value.length > this.context.limits.maxTextChars ? value.slice(0, this.context.limits.maxTextChars) : value;
  }

  /** The stream no longer waits for its hello (it came, or the stream ended): frees its pending slot once. */
  private settleHello(): void {
    if (this.helloTimer === undefined) return;
    this.context.clock.clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    this.onHelloSettled();
  }

  /** Ends the stream with a status (a refusal, counted under `reason`). */
  private refuse(code: grpc.status, details: string, reason: StreamRefusal | undefined, trailers?: grpc.Metadata): void {
    if (this.finished) return;
    if (reason !== undefined) {
      this.context.metrics.refused(reason);
      this.context.logger.warn({ node: this.record?.node, code: grpc.status[code], details }, 'agent stream refused');
    }
    this.finish({ code, details, ...(trailers !== undefined ? { metadata: trailers } : {}) });
  }

  private finish(status: { code: grpc.status; details: string; metadata?: grpc.Metadata } | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.settleHello();
    const record = this.record;
    if (record !== undefined) {
      this.context.track(this, false);
      if (this.context.registry.disconnect(record, this)) {
        this.context.logger.info({ node: record.node }, 'agent disconnected');
        this.publishAgent(record);
      }
    }
    if (status) this.call.emit('error', Object.assign(new Error(status.details), status));
    else this.call.end();
  }
}

