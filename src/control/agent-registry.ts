// What the control plane knows of each agent, by node name: connected or not, the version it
// acked, its NACK of a later one, its last report, when it was last heard from. Bounded: at
// most maxAgents records; a disconnected agent is kept for retainDisconnectedMs (so
// `meshlet agents` shows who went away) and then dropped, and when the registry is full the
// longest-disconnected record makes room for a new agent before one is refused.
import type { Clock } from '../clock.ts';
import type { AgentReport, AgentStatus, BreakerReport, EndpointReport, Hello, MeshStatus, Nack } from './control-proto.ts';

export interface AgentRegistryOptions {
  readonly maxAgents: number;
  readonly retainDisconnectedMs: number;
  readonly clock: Clock;
  /** Wall-clock milliseconds since the epoch, for last_seen_ms. */
  readonly wallNow: () => number;
}

/** The connection an agent record belongs to: a reconnect replaces it. */
export interface AgentSession {
  /** Ends the connection, telling the agent why. */
  close(reason: string): void;
}

export interface AgentRecord {
  readonly node: string;
  softwareVersion: string;
  services: readonly string[];
  upstreams: readonly string[];
  session: AgentSession | undefined;
  ackedVersion: number;
  nack: Nack | null;
  lastReport: AgentReport | null;
  lastSeenMs: number;
  /** Monotonic time of the disconnect; undefined while connected. */
  disconnectedAt: number | undefined;
}

export type ConnectResult = { readonly ok: true; readonly record: AgentRecord } | { readonly ok: false; readonly reason: string };

export class AgentRegistry {
  private readonly records = new Map<string, AgentRecord>();

  constructor(private readonly options: AgentRegistryOptions) {}

  get size(): number {
    return this.records.size;
  }

  connectedCount(): number {
    let count = 0;
    for (const record of this.records.values()) if (record.session) count++;
    return count;
  }

  /** Registers the agent of a Hello on `session`; an earlier connection of the same node is closed. */
  connect(hello: Hello, session: AgentSession): ConnectResult {
    let record = this.records.get(hello.node);
    if (record === undefined) {
      if (this.records.size >= this.options.maxAgents && !this.evictOldestDisconnected()) {
        return { ok: false, reason: `the control plane holds its limit of ${this.options.maxAgents} agents` };
      }
      record = {
        node: hello.node, softwareVersion: '', services: [], upstreams: [], session: undefined,
        ackedVersion: hello.policyVersion, nack: null, lastReport: null, lastSeenMs: 0, disconnectedAt: undefined,
      };
      this.records.set(hello.node, record);
    }
    record.session?.close(`replaced by a newer connection of node ${hello.node}`);
    record.session = session;
    record.softwareVersion = hello.version;
    record.services = hello.services;
    record.upstreams = hello.upstreams;
    record.disconnectedAt = undefined;
    this.seen(record);
    return { ok: true, record };
  }

  /** Marks the agent disconnected, if `session` is still its connection. */
  disconnect(record: AgentRecord, session: AgentSession): boolean {
    if (record.session !== session) return false;
    record.session = undefined;
    record.disconnectedAt = this.options.clock.now();
    this.seen(record);
    return true;
  }

  ack(record: AgentRecord, version: number): void {
    record.ackedVersion = version;
    if (record.nack !== null && record.nack.version <= version) record.nack = null;
    this.seen(record);
  }

  nack(record: AgentRecord, nack: Nack): void {
    record.nack = nack;
    this.seen(record);
  }

  /** Stores the report and returns the one it replaces. */
  report(record: AgentRecord, report: AgentReport): AgentReport | null {
    const previous = record.lastReport;
    record.lastReport = report;
    this.seen(record);
    return previous;
  }

  seen(record: AgentRecord): void {
    record.lastSeenMs = this.options.wallNow();
  }

  /** Drops the records disconnected longer than the retention; returns how many. */
  sweep(): number {
    const cutoff = this.options.clock.now() - this.options.retainDisconnectedMs;
    let dropped = 0;
    for (const [node, record] of this.records) {
      if (record.disconnectedAt !== undefined && record.disconnectedAt <= cutoff) {
        this.records.delete(node);
        dropped++;
      }
    }
    return dropped;
  }

  list(): AgentStatus[] {
    return [...this.records.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)).map((r) => statusOf(r, true));
  }

  meshStatus(currentVersion: number): MeshStatus {
    let connected = 0;
    let onCurrent = 0;
    const openBreakers: BreakerReport[] = [];
    const ejectedEndpoints: EndpointReport[] = [];
    const unreachableEndpoints: EndpointReport[] = [];
    for (const record of this.records.values()) {
      if (record.session) connected++;
      if (record.ackedVersion === currentVersion) onCurrent++;
      for (const breaker of record.lastReport?.breakers ?? []) {
        if (breaker.state !== 'BREAKER_STATE_CLOSED') openBreakers.push({ ...breaker, node: record.node });
      }
      for (const endpoint of record.lastReport?.endpoints ?? []) {
        if (endpoint.ejected) ejectedEndpoints.push({ ...endpoint, node: record.node });
        if (endpoint.unreachable) unreachableEndpoints.push({ ...endpoint, node: record.node });
      }
    }
    return { currentVersion, agents: this.records.size, agentsConnected: connected, agentsOnCurrent: onCurrent, openBreakers, ejectedEndpoints, unreachableEndpoints };
  }

  private evictOldestDisconnected(): boolean {
    let oldest: AgentRecord | undefined;
    for (const record of this.records.values()) {
      if (record.disconnectedAt !== undefined && (oldest === undefined || record.disconnectedAt < oldest.disconnectedAt!)) oldest = record;
    }
    if (oldest === undefined) return false;
    this.records.delete(oldest.node);
    return true;
  }
}

/** The agent as ListAgents shows it; events leave the report out to stay small. */
export function statusOf(record: AgentRecord, withReport: boolean): AgentStatus {
  return {
    node: record.node,
    softwareVersion: record.softwareVersion,
    connected: record.session !== undefined,
    version: record.ackedVersion,
    nack: record.nack,
    lastSeenMs: record.lastSeenMs,
    lastReport: withReport ? record.lastReport : null,
  };
}
