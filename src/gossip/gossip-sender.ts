// The datagram side of dissemination: every packet this member sends carries as many queued
// broadcasts as fit beside its own messages, and the gossip round sends what is left to a few
// random members (the dead among them for a while, so a member wrongly declared dead hears it
// and refutes).

import type { Clock } from '../clock.ts';
import type { BroadcastQueue } from './broadcast-queue.ts';
import { encodeMessage, encodePacket } from './codec.ts';
import type { GossipMetrics } from './gossip-metrics.ts';
import type { MemberTable } from './member-table.ts';
import type { GossipMessage, GossipMessageType } from './messages.ts';
import type { GossipSettings } from './settings.ts';
import type { Transport } from './transport.ts';

export interface GossipSenderOptions {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly metrics: GossipMetrics;
  readonly settings: Pick<GossipSettings, 'gossipNodes' | 'gossipToTheDeadMs' | 'gossipIntervalMs'>;
  readonly table: MemberTable;
  readonly broadcasts: BroadcastQueue;
}

export class GossipSender {
  /** Broadcast types are counted as the queue hands them over, without decoding them again. */
  private readonly countOut = (type: GossipMessageType) => this.deps.metrics.message(type, 'out');
  private lastExtraRound = -Infinity;

  constructor(private readonly deps: GossipSenderOptions) {}

  /** The messages plus as many queued broadcasts as fit beside them, in one packet. */
  send(to: string, ...messages: GossipMessage[]): void {
    const first = messages.length === 1 ? encodeMessage(messages[0]!) : encodePacket(messages);
    for (const m of messages) this.deps.metrics.message(m.type, 'out');
    const piggyback = this.deps.broadcasts.take(this.deps.transport.maxPacketSize - first.length, this.countOut);
    this.sendPacket(to, piggyback.length === 0 ? first : Buffer.concat([first, ...piggyback]));
  }

  /**
   * A gossip round now, for news a member wants out without waiting for its next tick (a
   * join it took part in); at most one such round per gossip interval, so a burst of joins
   * costs no more than a second ticker would.
   */
  gossipNow(): void {
    const now = this.deps.clock.now();
    if (now - this.lastExtraRound < this.deps.settings.gossipIntervalMs) return;
    this.lastExtraRound = now;
    this.gossipRound();
  }

  gossipRound(): void {
    if (this.deps.broadcasts.length === 0) return;
    const now = this.deps.clock.now();
    const targets = this.deps.table.randomMembers(this.deps.settings.gossipNodes, (s) => {
      const m = s.member;
      return m.status === 'alive' || m.status === 'suspect' || (m.status === 'dead' && now - m.since < this.deps.settings.gossipToTheDeadMs);
    });
    for (const target of targets) {
      const entries = this.deps.broadcasts.take(this.deps.transport.maxPacketSize, this.countOut);
      if (entries.length === 0) return;
      this.sendPacket(target.member.addr, Buffer.concat(entries));
    }
  }

  private sendPacket(to: string, data: Uint8Array): void {
    this.deps.metrics.bytes('out', data.length);
    this.deps.transport.sendPacket(to, data);
  }
}
