// Push-pull anti-entropy: now and then this member swaps its whole membership with one
// random member over a stream (the transport's exchange), so whatever gossip lost is repaired
// and a joiner learns everyone at once. Serf's reconnect does the same with a dead member,
// which may be the far side of a healed partition.

import type { Random } from '../clock.ts';
import { decodePacket, encodePacket, GossipDecodeError } from './codec.ts';
import type { GossipLogger, GossipMetrics } from './gossip-metrics.ts';
import type { LocalMember } from './local-member.ts';
import type { MemberTable } from './member-table.ts';
import type { MemberState, PushPull } from './messages.ts';
import type { GossipSettings } from './settings.ts';
import type { StateMerges } from './state-merges.ts';
import type { TimerScope } from './timer-scope.ts';
import { pushPullInterval } from './timing.ts';
import type { Transport } from './transport.ts';

export interface AntiEntropyOptions {
  readonly self: LocalMember;
  readonly table: MemberTable;
  readonly merges: Pick<StateMerges, 'alive' | 'leave' | 'suspect'>;
  readonly timers: TimerScope;
  readonly transport: Pick<Transport, 'exchange'>;
  readonly random: Random;
  readonly metrics: GossipMetrics;
  readonly logger: GossipLogger;
  readonly settings: Pick<GossipSettings, 'pushPullIntervalMs' | 'exchangeTimeoutMs' | 'probeIntervalMs'>;
  /** Gossips what is queued at once: a joiner's alive, taken in by a join this member answered. */
  readonly gossipNow: () => void;
}

export class AntiEntropy {
  /** The encoded answer, kept until the next change: a seed answers a join wave with one encoding. */
  private encodedState: { tableVersion: number; selfVersion: number; bytes: Uint8Array } | undefined;

  constructor(private readonly deps: AntiEntropyOptions) {}

  /** Push-pulls with a random alive member and schedules the next, spaced out as the cluster grows. */
  loop(): void {
    const { table, timers, settings, logger } = this.deps;
    timers.after(pushPullInterval(settings.pushPullIntervalMs, table.clusterSize()), () => this.loop());
    const [peer] = table.randomMembers(1, (s) => s.member.status === 'alive');
    if (peer) this.pushPull(peer.member.addr, false).catch((err: unknown) => logger.debug({ peer: peer.member.node, err: String(err) }, 'gossip push-pull failed'));
  }

  /** Serf's reconnect: a dead member may be the far side of a healed partition. */
  reconnect(): void {
    const candidates = this.deps.table.reconnectAddresses();
    if (candidates.length === 0) return;
    const addr = candidates[Math.floor(this.deps.random() * candidates.length)]!;
    this.pushPull(addr, false).catch(() => {});
  }

  /**
   * A seed answers a join with what it knows then; members started together (a fleet booted
   * with the same seed list) each get only those that joined before them. One more push-pull
   * with a seed a probe interval or so later fetches everyone at once, instead of leaving
   * n² alive messages to gossip (which caps convergence at the packet budget, not log n).
   */
  scheduleJoinResync(seeds: readonly string[]): void {
    const { random, timers, settings, logger } = this.deps;
    const seed = seeds[Math.floor(random() * seeds.length)]!;
    timers.after((0.5 + random()) * settings.probeIntervalMs, () => {
      this.pushPull(seed, false).catch((err: unknown) => logger.debug({ seed, err: String(err) }, 'gossip join resync failed'));
    });
  }

  /** Rejects when the exchange fails; an answer that does not decode is counted and dropped. */
  async pushPull(addr: string, join: boolean): Promise<void> {
    const { metrics } = this.deps;
    const request = this.localState(join);
    metrics.message('push-pull', 'out');
    metrics.bytes('out', request.length);
    const answer = await this.deps.transport.exchange(addr, request, this.deps.settings.exchangeTimeoutMs);
    if (this.deps.timers.closed) return;
    metrics.bytes('in', answer.length);
    const remote = this.decodePushPull(answer);
    if (remote) this.mergeState(addr, remote);
  }

  /** The transport's exchange handler: undefined closes the stream unanswered. */
  handleExchange(from: string, request: Uint8Array): Uint8Array | undefined {
    const { metrics } = this.deps;
    if (this.deps.timers.closed) return undefined;
    metrics.bytes('in', request.length);
    const remote = this.decodePushPull(request);
    if (!remote) return undefined;
    this.mergeState(from, remote);
    if (remote.join) this.deps.gossipNow();
    // Answered after merging, so a peer that thought us dead gets our refutation back.
    const answer = this.localState(false);
    metrics.message('push-pull', 'out');
    metrics.bytes('out', answer.length);
    return answer;
  }

  private decodePushPull(bytes: Uint8Array): PushPull | undefined {
    const { metrics } = this.deps;
    try {
      const messages = decodePacket(bytes);
      const [first] = messages;
      if (messages.length !== 1 || first?.type !== 'push-pull') {
        metrics.dropped('unexpected');
        return undefined;
      }
      metrics.message('push-pull', 'in');
      return first;
    } catch (err) {
      if (!(err instanceof GossipDecodeError)) throw err;
      metrics.dropped('decode');
      return undefined;
    }
  }

  /** A join is never answered from the cache: its flag is part of the encoding. */
  private localState(join: boolean): Uint8Array {
    const { self, table } = this.deps;
    const cached = this.encodedState;
    if (!join && cached?.tableVersion === table.version && cached.selfVersion === self.version) return cached.bytes;
    const members: MemberState[] = [self.state()];
    for (const s of table.states()) {
      const m = s.member;
      members.push({ node: m.node, addr: m.addr, incarnation: m.incarnation, status: m.status, meta: m.meta });
    }
    const bytes = encodePacket([{ type: 'push-pull', join, members }]);
    if (!join) this.encodedState = { tableVersion: table.version, selfVersion: self.version, bytes };
    return bytes;
  }

  /**
   * A remote's dead is only our suspicion: the member gets its chance to refute to us too.
   * Alive news is gossiped on only from a join (the joiner is news to everyone); what the
   * periodic exchanges bring, every member fetches by its own.
   */
  private mergeState(from: string, remote: PushPull): void {
    const { merges } = this.deps;
    for (const m of remote.members) {
      switch (m.status) {
        case 'alive':
          merges.alive({ type: 'alive', node: m.node, incarnation: m.incarnation, addr: m.addr, meta: m.meta }, remote.join);
          break;
        case 'left':
          merges.leave({ type: 'leave', node: m.node, incarnation: m.incarnation });
          break;
        case 'suspect':
        case 'dead':
          merges.suspect({ type: 'suspect', node: m.node, incarnation: m.incarnation, from }, 'suspected-by-peer');
          break;
      }
    }
  }
}
