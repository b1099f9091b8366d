// The members this one knows (never itself): looked up by name, iterated as a list, counted by
// status for the timing formulas and the metrics, and walked in a shuffled order by the
// prober. Every change goes through here, so the counts, the change events and the version
// that push-pull caches its encoding on cannot drift apart.

import type { Clock, Random } from '../clock.ts';
import type { GossipLogger, GossipMetrics } from './gossip-metrics.ts';
import type { Member, MemberChange, MemberChangeReason } from './member.ts';
import type { Alive, MemberStatus } from './messages.ts';
import type { GossipSettings } from './settings.ts';
import type { Suspicion } from './suspicion.ts';

export interface NodeState {
  member: Member;
  suspicion: Suspicion | undefined;
  /** Position in the table's list, for O(1) removal. */
  index: number;
}

export interface MemberTableOptions {
  readonly clock: Clock;
  readonly random: Random;
  readonly metrics: GossipMetrics;
  readonly logger: GossipLogger;
  readonly settings: Pick<GossipSettings, 'reclaimTimeMs' | 'reconnectTimeoutMs' | 'maxMembers'>;
}

const STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

export class MemberTable {
  private readonly nodes = new Map<string, NodeState>();
  private readonly list: NodeState[] = [];
  private readonly statusCounts = new Map<MemberStatus, number>(STATUSES.map((s) => [s, 0]));
  /** Forgotten dead members still worth a reconnect: node → address and until when. */
  private readonly reconnectCandidates = new Map<string, { addr: string; until: number }>();
  private readonly listeners = new Set<(change: MemberChange) => void>();
  private probeOrder: string[] = [];
  private probeIndex = 0;
  private changes = 0;

  constructor(private readonly deps: MemberTableOptions) {}

  /** Grows with every change a push-pull answer would show: an encoding is good until it moves. */
  get version(): number {
    return this.changes;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(node: string): NodeState | undefined {
    return this.nodes.get(node);
  }

  /** The live list, not a copy: callers iterate it and must not change it. */
  states(): readonly NodeState[] {
    return this.list;
  }

  subscribe(listener: (change: MemberChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether any other member is alive to hear what this one gossips. */
  anyAlive(): boolean {
    return this.statusCounts.get('alive')! > 0;
  }

  /** Members that are not dead or gone, plus this one: the n of the timing formulas. */
  clusterSize(): number {
    return this.statusCounts.get('alive')! + this.statusCounts.get('suspect')! + 1;
  }

  add(a: Alive): void {
    this.reconnectCandidates.delete(a.node);
    const member: Member = { node: a.node, addr: a.addr, status: 'alive', incarnation: a.incarnation, meta: a.meta, since: this.deps.clock.now(), reason: 'joined' };
    this.changes++;
    const state: NodeState = { member, suspicion: undefined, index: this.list.length };
    this.nodes.set(a.node, state);
    this.list.push(state);
    // A newcomer goes to a random place in the probe order, so it is probed within one pass.
    // (Appended, then swapped with a random not-yet-probed place: O(1) however big the list.)
    const order = this.probeOrder;
    const at = this.probeIndex + Math.floor(this.deps.random() * (order.length - this.probeIndex + 1));
    order.push(a.node);
    [order[at], order[order.length - 1]] = [order[order.length - 1]!, order[at]!];
    this.count(undefined, 'alive');
    this.changed(member, undefined);
  }

  /**
   * `visible` false: only the incarnation moved (or nothing a subscriber reads), so the
   * member keeps its since and reason and no one is told.
   */
  update(state: NodeState, next: Omit<Member, 'since' | 'reason'> & Partial<Member>, reason: MemberChangeReason, visible: boolean): void {
    this.changes++;
    const previous = state.member;
    const member: Member = visible ? { ...next, since: this.deps.clock.now(), reason } : { ...next, since: previous.since, reason: previous.reason };
    state.member = member;
    if (!visible) return;
    this.count(previous.status, member.status);
    this.changed(member, previous);
  }

  /** Randomized round-robin: every member once per pass, in a new random order each pass. */
  nextProbeTarget(): Member | undefined {
    for (let checked = 0; checked <= this.probeOrder.length; checked++) {
      if (this.probeIndex >= this.probeOrder.length) {
        this.probeOrder = this.list.map((s) => s.member.node);
        this.shuffle(this.probeOrder);
        this.probeIndex = 0;
        if (this.probeOrder.length === 0) return undefined;
      }
      const member = this.nodes.get(this.probeOrder[this.probeIndex++]!)?.member;
      if (member && (member.status === 'alive' || member.status === 'suspect')) return member;
    }
    return undefined;
  }

  /** Up to k distinct random members passing `accept` (memberlist's kRandomNodes). */
  randomMembers(k: number, accept: (s: NodeState) => boolean): NodeState[] {
    const n = this.list.length;
    const chosen: NodeState[] = [];
    for (let tries = 0; tries < 3 * n && chosen.length < k; tries++) {
      const s = this.list[Math.floor(this.deps.random() * n)]!;
      if (accept(s) && !chosen.includes(s)) chosen.push(s);
    }
    return chosen;
  }

  /** Dead and left members are forgotten after reclaimTime; dead ones stay reconnect candidates. */
  reclaim(): void {
    const now = this.deps.clock.now();
    for (let i = this.list.length - 1; i >= 0; i--) {
      const m = this.list[i]!.member;
      if ((m.status !== 'dead' && m.status !== 'left') || now - m.since < this.deps.settings.reclaimTimeMs) continue;
      this.remove(this.list[i]!);
      if (m.status === 'dead' && this.reconnectCandidates.size < this.deps.settings.maxMembers) {
        this.reconnectCandidates.set(m.node, { addr: m.addr, until: m.since + this.deps.settings.reconnectTimeoutMs });
      }
      this.deps.logger.debug({ node: m.node, status: m.status }, 'gossip forgot a member');
    }
  }

  /** Addresses of dead members, listed or forgotten within reconnectTimeout; drops the expired. */
  reconnectAddresses(): string[] {
    const now = this.deps.clock.now();
    const addresses: string[] = [];
    for (const s of this.list) if (s.member.status === 'dead') addresses.push(s.member.addr);
    for (const [node, c] of this.reconnectCandidates) {
      if (c.until <= now) this.reconnectCandidates.delete(node);
      else addresses.push(c.addr);
    }
    return addresses;
  }

  cancelSuspicions(): void {
    for (const state of this.list) state.suspicion?.cancel();
  }

  private remove(state: NodeState): void {
    this.changes++;
    state.suspicion?.cancel();
    const last = this.list.pop()!;
    if (last !== state) {
      this.list[state.index] = last;
      last.index = state.index;
    }
    this.nodes.delete(state.member.node);
    this.count(state.member.status, undefined);
  }

  private changed(member: Member, previous: Member | undefined): void {
    this.deps.logger.info({ node: member.node, addr: member.addr, status: member.status, incarnation: member.incarnation, reason: member.reason, previous: previous?.status }, 'gossip member changed');
    if (member.status !== previous?.status) this.deps.metrics.memberChange(member.status);
    for (const listener of this.listeners) listener({ member, previous });
  }

  private count(from: MemberStatus | undefined, to: MemberStatus | undefined): void {
    if (from === to) return;
    for (const [status, delta] of [[from, -1], [to, 1]] as const) {
      if (status === undefined) continue;
      const next = this.statusCounts.get(status)! + delta;
      this.statusCounts.set(status, next);
      this.deps.metrics.members(status, next);
    }
  }

  private shuffle(list: string[]): void {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(this.deps.random() * (i + 1));
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
  }
}
