// The membership: SWIM (Das, Gupta, Motivala 2002) with Lifeguard (Dadgar et al. 2017), after
// memberlist's state.go. Each probe interval this member probes the next member of a shuffled
// list; a probe that gets no ack is retried through indirectChecks others, who nack if they
// fail too; a member no one reaches is suspected, and declared dead unless it refutes (raises
// its incarnation) before the suspicion times out. State changes ride as broadcasts on every
// packet sent, and a periodic TCP push-pull with one random member repairs whatever gossip
// missed. Everything a peer sends is decoded and checked by codec.ts and bounded by the part
// that keeps it.
//
// This class composes the parts and routes each datagram to the one it concerns:
// member-table.ts (who we know), local-member.ts (ourselves), probing.ts (failure detection),
// state-merges.ts (what others claim, and suspicion), gossip-sender.ts (broadcasts going
// out), anti-entropy.ts (push-pull), timer-scope.ts (what close() stops).

import type { Clock, Random } from '../clock.ts';
import { AntiEntropy } from './anti-entropy.ts';
import { Awareness } from './awareness.ts';
import { BroadcastQueue } from './broadcast-queue.ts';
import { decodePacket, GossipDecodeError } from './codec.ts';
import { type GossipLogger, type GossipMetrics, NO_GOSSIP_METRICS, SILENT_LOGGER } from './gossip-metrics.ts';
import { GossipSender } from './gossip-sender.ts';
import { LocalMember } from './local-member.ts';
import type { Member, MemberChange, MembershipView } from './member.ts';
import { MemberTable } from './member-table.ts';
import { EMPTY_META, type GossipMessage, type MemberMeta } from './messages.ts';
import { Prober } from './probing.ts';
import { DEFAULT_GOSSIP_SETTINGS, type GossipSettings } from './settings.ts';
import { StateMerges } from './state-merges.ts';
import { TimerScope } from './timer-scope.ts';
import { retransmitLimit } from './timing.ts';
import type { Transport } from './transport.ts';

export interface MembershipOptions {
  /** This member's name (config.node); unique in the cluster. */
  readonly node: string;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: Random;
  readonly settings?: Partial<GossipSettings>;
  readonly metrics?: GossipMetrics;
  readonly logger?: GossipLogger;
  readonly meta?: MemberMeta;
}

export class Membership implements MembershipView {
  readonly node: string;
  private readonly settings: GossipSettings;
  private readonly transport: Transport;
  private readonly random: Random;
  private readonly metrics: GossipMetrics;
  private readonly logger: GossipLogger;
  private readonly timers: TimerScope;
  private readonly table: MemberTable;
  private readonly awareness: Awareness;
  private readonly broadcasts: BroadcastQueue;
  private readonly sender: GossipSender;
  private readonly self: LocalMember;
  private readonly merges: StateMerges;
  private readonly prober: Prober;
  private readonly antiEntropy: AntiEntropy;

  constructor(options: MembershipOptions) {
    this.node = options.node;
    this.transport = options.transport;
    this.random = options.random;
    const clock = options.clock;
    this.settings = { ...DEFAULT_GOSSIP_SETTINGS, ...options.settings };
    this.metrics = options.metrics ?? NO_GOSSIP_METRICS;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.timers = new TimerScope(clock);
    this.table = new MemberTable({ clock, random: this.random, metrics: this.metrics, logger: this.logger, settings: this.settings });
    this.awareness = new Awareness(this.settings.awarenessMaxMultiplier, (score) => this.metrics.awareness(score));
    this.broadcasts = new BroadcastQueue(() => retransmitLimit(this.settings.retransmitMultiplier, this.table.clusterSize()), this.settings.maxQueuedBroadcasts);
    this.sender = new GossipSender({ transport: this.transport, clock, metrics: this.metrics, settings: this.settings, table: this.table, broadcasts: this.broadcasts });
    this.self = new LocalMember(this.node, this.transport, this.broadcasts, options.meta ?? EMPTY_META);
    // The merges and the prober call each other (a failed probe suspects; an expired suspicion
    // probes once more): the merges get the prober's probe as a function, bound late.
    this.merges = new StateMerges({ self: this.self, table: this.table, broadcasts: this.broadcasts, awareness: this.awareness, clock, metrics: this.metrics, logger: this.logger, settings: this.settings, probe: (target, interval, onResult) => this.prober.probe(target, interval, onResult), gossipNow: () => this.sender.gossipNow() });
    this.prober = new Prober({ self: this.self, table: this.table, sender: this.sender, timers: this.timers, awareness: this.awareness, metrics: this.metrics, settings: this.settings, merges: this.merges });
    this.antiEntropy = new AntiEntropy({ self: this.self, table: this.table, merges: this.merges, timers: this.timers, transport: this.transport, random: this.random, metrics: this.metrics, logger: this.logger, settings: this.settings, gossipNow: () => this.sender.gossipNow() });
  }

  get address(): string {
    return this.transport.localAddress;
  }

  /** Lifeguard's local health score, 0 (healthy) to awarenessMaxMultiplier − 1. */
  get awarenessScore(): number {
    return this.awareness.score;
  }

  get currentIncarnation(): number {
    return this.self.incarnation;
  }

  /** Broadcasts waiting to be gossiped (for tests and the admin API). */
  get queuedBroadcasts(): number {
    return this.broadcasts.length;
  }

  members(): Iterable<Member> {
    return this.table.states().map((s) => s.member);
  }

  member(node: string): Member | undefined {
    return this.table.get(node)?.member;
  }

  subscribe(listener: (change: MemberChange) => void): () => void {
    return this.table.subscribe(listener);
  }

  /** Listens on the transport and starts probing, gossiping and anti-entropy. */
  async start(): Promise<void> {
    await this.transport.listen({
      packet: (from, data) => this.handlePacket(from, data),
      exchange: async (from, request) => this.antiEntropy.handleExchange(from, request),
    });
    const s = this.settings;
    // Random first deadlines, so members started together do not tick in lockstep (gossip
    // rounds in lockstep make every hop of a broadcast wait a whole interval, not half of one
    // on average).
    this.timers.after(this.random() * s.probeIntervalMs, () => this.prober.loop());
    this.timers.after(this.random() * s.gossipIntervalMs, () => {
      this.sender.gossipRound();
      this.timers.every(s.gossipIntervalMs, () => this.sender.gossipRound());
    });
    this.timers.after(this.random() * s.pushPullIntervalMs, () => this.antiEntropy.loop());
    this.timers.every(s.reconnectIntervalMs, () => this.antiEntropy.reconnect());
    this.timers.every(Math.max(1000, Math.min(s.reclaimTimeMs, s.probeIntervalMs * 5)), () => this.table.reclaim());
  }

  /**
   * Push-pulls with each seed; resolves with how many answered. When none did, retries
   * joinRetries times with a doubling backoff, then rejects.
   */
  async join(seeds: readonly string[]): Promise<number> {
    const targets = seeds.filter((seed) => seed !== this.address);
    if (targets.length === 0) return 0;
    let backoff = this.settings.joinBackoffMs;
    for (let attempt = 0; ; attempt++) {
      const results = await Promise.allSettled(targets.map((seed) => this.antiEntropy.pushPull(seed, true)));
      const joined = results.filter((r) => r.status === 'fulfilled').length;
      if (joined > 0) {
        // The seeds gossip our alive, and so do we (memberlist queues its own at start), both
        // at once rather than at the next tick: the news then reaches everyone a round or so
        // sooner.
        this.self.announce();
        this.sender.gossipNow();
        this.antiEntropy.scheduleJoinResync(targets.filter((_, i) => results[i]!.status === 'fulfilled'));
      }
      if (joined > 0 || this.timers.closed) {
        this.logger.info({ joined, seeds: targets.length }, 'gossip join');
        return joined;
      }
      if (attempt >= this.settings.joinRetries) throw new Error(`could not join any of ${targets.join(', ')} after ${attempt + 1} attempts`);
      this.logger.warn({ attempt: attempt + 1, retryInMs: backoff }, 'gossip join failed; retrying');
      await this.timers.wait(backoff);
      if (this.timers.closed) return 0;
      backoff *= 2;
    }
  }

  /**
   * New metadata (health changed, draining began): a higher incarnation, gossiped as alive.
   * Resolves once the update was sent its retransmit limit's times (or a newer announcement
   * replaced it), at once when no member is alive to hear it; the sends follow the gossip
   * rounds this member really ran, so a lagging event loop waits longer.
   */
  setMeta(meta: MemberMeta): Promise<void> {
    if (!this.table.anyAlive()) {
      this.self.setMeta(meta);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const sent = (): void => {
        this.timers.released(sent);
        resolve();
      };
      this.timers.releaseOnClose(sent);
      this.self.setMeta(meta, sent);
    });
  }

  /** Feeds Lifeguard the agent's event-loop delay; call about once a probe interval. */
  noteEventLoopLag(ms: number): void {
    this.awareness.noteEventLoopLag(ms, this.settings.probeTimeoutMs);
  }

  /**
   * Gossips that this member leaves (others mark it left, not dead) and resolves once the
   * message has been sent its retransmit limit's times, or after leaveTimeoutMs.
   */
  async leave(): Promise<void> {
    if (!this.self.startLeaving()) return;
    if (!this.table.anyAlive()) return;
    await new Promise<void>((resolve) => {
      const timer = this.timers.after(this.settings.leaveTimeoutMs, resolve);
      this.timers.releaseOnClose(resolve);
      this.broadcasts.enqueue(this.node, this.self.leaveMessage(), () => {
        this.timers.cancel(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.timers.closed) return;
    this.timers.close();
    this.table.cancelSuspicions();
    this.prober.clear();
    this.broadcasts.clear();
    await this.transport.close();
  }

  // ---- incoming packets ------------------------------------------------------------------

  private handlePacket(from: string, data: Uint8Array): void {
    if (this.timers.closed) return;
    this.metrics.bytes('in', data.length);
    let messages: GossipMessage[];
    try {
      messages = decodePacket(data);
    } catch (err) {
      if (!(err instanceof GossipDecodeError)) throw err;
      this.metrics.dropped('decode');
      return;
    }
    for (const message of messages) {
      this.metrics.message(message.type, 'in');
      switch (message.type) {
        case 'ping':
          this.prober.handlePing(from, message.seqNo, message.node);
          break;
        case 'ping-req':
          this.prober.handlePingReq(from, message);
          break;
        case 'ack':
          this.prober.handleAck(message.seqNo);
          break;
        case 'nack':
          this.prober.handleNack(message.seqNo);
          break;
        case 'alive':
          this.merges.alive(message);
          break;
        case 'suspect':
          this.merges.suspect(message, 'suspected-by-peer');
          break;
        case 'dead':
          this.merges.dead(message, 'declared-dead-by-peer');
          break;
        case 'leave':
          this.merges.leave(message);
          break;
        case 'push-pull':
          this.metrics.dropped('unexpected');
          break;
      }
    }
  }
}
