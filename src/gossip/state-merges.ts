// What others say about members, merged into the table (memberlist's aliveNode, suspectNode,
// deadNode): a claim wins only at a higher incarnation, or at the same one when it is worse
// news, so every member ends up agreeing whatever order the gossip arrived in. Claims about
// this member are answered by refuting them. A suspicion runs a Lifeguard timeout that
// independent confirmations shorten; when it expires, one last probe decides.

import type { Clock } from '../clock.ts';
import type { Awareness } from './awareness.ts';
import type { BroadcastQueue } from './broadcast-queue.ts';
import type { GossipLogger, GossipMetrics } from './gossip-metrics.ts';
import type { LocalMember } from './local-member.ts';
import type { Member, MemberChangeReason } from './member.ts';
import type { MemberTable, NodeState } from './member-table.ts';
import type { Alive, Dead, Leave, MemberMeta, Suspect } from './messages.ts';
import type { GossipSettings } from './settings.ts';
import { Suspicion } from './suspicion.ts';
import { expectedConfirmations, suspicionTimeout } from './timing.ts';

/** A probe with a verdict callback instead of the usual suspicion of a failed target. */
export type VerdictProbe = (target: Member, interval: number, onResult: (acked: boolean) => void) => void;

export interface StateMergesOptions {
  readonly self: LocalMember;
  readonly table: MemberTable;
  readonly broadcasts: BroadcastQueue;
  readonly awareness: Awareness;
  readonly clock: Clock;
  readonly metrics: GossipMetrics;
  readonly logger: GossipLogger;
  readonly settings: Pick<GossipSettings, 'maxMembers' | 'probeIntervalMs' | 'suspicionMultiplier' | 'suspicionMaxTimeoutMultiplier'>;
  /** The prober's; a function, so the prober and the merges need not know each other. */
  readonly probe: VerdictProbe;
  /** The sender's extra gossip round (at most one per interval), for news that should not wait for a tick. */
  readonly gossipNow: () => void;
}

export class StateMerges {
  constructor(private readonly deps: StateMergesOptions) {}

  /** `gossip` false: learned by anti-entropy, which spreads it by itself; not queued again. */
  alive(a: Alive, gossip = true): void {
    const { self, table, broadcasts } = this.deps;
    if (a.node === self.node) {
      // Our own alive echoing back is fine; anything newer claims our name: refute it.
      if (a.incarnation > self.incarnation && !self.leaving) this.refute(a.incarnation);
      return;
    }
    const state = table.get(a.node);
    if (!state) {
      if (table.size >= this.deps.settings.maxMembers) return this.deps.metrics.dropped('member-cap');
      table.add(a);
      if (gossip) broadcasts.enqueue(a.node, a);
      return;
    }
    const m = state.member;
    if (a.incarnation <= m.incarnation) return;
    state.suspicion?.cancel();
    state.suspicion = undefined;
    const reason: MemberChangeReason = m.status === 'suspect' ? 'refuted' : m.status === 'alive' ? 'updated' : 'joined';
    const visible = m.status !== 'alive' || m.addr !== a.addr || !sameMeta(m.meta, a.meta);
    table.update(state, { ...m, addr: a.addr, incarnation: a.incarnation, meta: a.meta, status: 'alive' }, reason, visible);
    if (gossip) broadcasts.enqueue(a.node, a);
  }

  suspect(s: Suspect, reason: MemberChangeReason): void {
    if (s.node === this.deps.self.node) return this.accused(s.incarnation);
    const state = this.deps.table.get(s.node);
    if (!state || s.incarnation < state.member.incarnation) return;
    const m = state.member;
    if (state.suspicion && m.status === 'suspect' && s.incarnation === m.incarnation) {
      if (state.suspicion.confirm(s.from)) this.deps.broadcasts.enqueue(s.node, s);
      return;
    }
    // A suspicion at a higher incarnation means the member refuted the one we hold (we missed
    // its alive): that one is over, and this one starts afresh.
    if (m.status !== 'alive' && m.status !== 'suspect') return;
    this.startSuspicion(state, s.from, s.incarnation);
    this.deps.table.update(state, { ...state.member, incarnation: s.incarnation, status: 'suspect' }, reason, true);
    this.deps.broadcasts.enqueue(s.node, s);
  }

  dead(d: Dead, reason: MemberChangeReason): void {
    if (d.node === this.deps.self.node) return this.accused(d.incarnation);
    const state = this.deps.table.get(d.node);
    if (!state || d.incarnation < state.member.incarnation) return;
    if (state.member.status === 'dead' || state.member.status === 'left') return;
    state.suspicion?.cancel();
    state.suspicion = undefined;
    this.deps.table.update(state, { ...state.member, incarnation: d.incarnation, status: 'dead' }, reason, true);
    this.deps.broadcasts.enqueue(d.node, d);
    // Callers keep sending to a dead member until their agent hears of the death, and each hop
    // of the news waiting for its gossip tick costs half an interval on average: passed on at
    // once, it reaches everyone in a few network round trips (memberlist waits for the ticks).
    this.deps.gossipNow();
  }

  leave(l: Leave): void {
    if (l.node === this.deps.self.node) return this.accused(l.incarnation);
    const state = this.deps.table.get(l.node);
    if (!state || l.incarnation < state.member.incarnation || state.member.status === 'left') return;
    state.suspicion?.cancel();
    state.suspicion = undefined;
    this.deps.table.update(state, { ...state.member, incarnation: l.incarnation, status: 'left' }, 'left', true);
    this.deps.broadcasts.enqueue(l.node, l);
  }

  private startSuspicion(state: NodeState, from: string, incarnation: number): void {
    const { settings } = this.deps;
    state.suspicion?.cancel();
    const n = this.deps.table.clusterSize();
    const min = suspicionTimeout(settings.suspicionMultiplier, n, settings.probeIntervalMs);
    const max = settings.suspicionMaxTimeoutMultiplier * min;
    const node = state.member.node;
    // The last-chance probe takes the suspicion's final probe interval, so the member is
    // declared dead when the timing math says (min is at least four intervals).
    const lead = settings.probeIntervalMs;
    const k = expectedConfirmations(settings.suspicionMultiplier, n);
    state.suspicion = new Suspicion(this.deps.clock, from, k, min - lead, max - lead, () => this.suspicionExpired(node, incarnation));
  }

  /**
   * A probe of `node` was answered after it gave up: the member runs, only slowly or over a
   * lossy path. A suspicion of it starts over, as after an answered last-chance probe, so it
   * is not declared dead on the strength of probes it did answer (its refutation, if it
   * sent one, may simply not have reached us).
   */
  answeredLate(node: string): void {
    const state = this.deps.table.get(node);
    if (state?.suspicion === undefined || state.member.status !== 'suspect') return;
    this.startSuspicion(state, this.deps.self.node, state.member.incarnation);
  }

  /**
   * A suspicion ran out. Gossip may have lost the suspect's refutation on its way to us, so
   * before declaring it dead we probe it once more ourselves: a member that answers is not
   * dead, and the buddy-system ping tells it to refute.
   */
  private suspicionExpired(node: string, incarnation: number): void {
    const stillSuspect = () => {
      const state = this.deps.table.get(node);
      return state && state.member.status === 'suspect' && state.member.incarnation === incarnation ? state : undefined;
    };
    const state = stillSuspect();
    if (!state) return;
    const expired = state.suspicion;
    this.deps.probe(state.member, this.deps.awareness.scale(this.deps.settings.probeIntervalMs), (acked) => {
      const current = stillSuspect();
      // A late answer in the meantime started a new suspicion: this verdict is not its own.
      if (!current || current.suspicion !== expired) return;
      if (acked) this.startSuspicion(current, this.deps.self.node, incarnation);
      else this.dead({ type: 'dead', node, incarnation, from: this.deps.self.node }, 'suspicion-timeout');
    });
  }

  /** Someone thinks we are suspect, dead or gone; an accusation older than our incarnation is stale. */
  private accused(incarnation: number): void {
    const { self } = this.deps;
    if (!self.leaving && incarnation >= self.incarnation) this.refute(incarnation);
  }

  /** Outbid the accuser's incarnation and say we are alive. */
  private refute(accused: number): void {
    const { self } = this.deps;
    self.outbid(accused);
    this.deps.awareness.applyDelta(1);
    this.deps.logger.info({ node: self.node, incarnation: self.incarnation }, 'gossip refuted a suspicion about this member');
    self.announce();
  }
}

function sameMeta(a: MemberMeta, b: MemberMeta): boolean {
  if (a === b) return true;
  if (a.draining !== b.draining || a.version !== b.version || a.services.length !== b.services.length) return false;
  return a.services.every((s, i) => {
    const t = b.services[i]!;
    return s.name === t.name && s.address === t.address && s.protocol === t.protocol && s.weight === t.weight && s.zone === t.zone && s.health === t.health;
  });
}
