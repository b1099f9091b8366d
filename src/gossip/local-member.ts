// This member's own entry, which the table never holds: its incarnation (the only number a
// member may raise about itself), its metadata and whether it is leaving. Every change is
// gossiped as an alive and moves `version`, so push-pull knows its cached answer is stale.

import type { BroadcastQueue } from './broadcast-queue.ts';
import { encodeMessage } from './codec.ts';
import type { Alive, Leave, MemberMeta, MemberState } from './messages.ts';
import type { Transport } from './transport.ts';

export class LocalMember {
  private currentIncarnation = 0;
  private currentMeta: MemberMeta;
  private isLeaving = false;
  private changes = 0;

  constructor(
    readonly node: string,
    private readonly transport: Pick<Transport, 'localAddress' | 'maxPacketSize'>,
    private readonly broadcasts: BroadcastQueue,
    meta: MemberMeta,
  ) {
    this.checkFits(meta);
    this.currentMeta = meta;
  }

  get address(): string {
    return this.transport.localAddress;
  }

  get incarnation(): number {
    return this.currentIncarnation;
  }

  get leaving(): boolean {
    return this.isLeaving;
  }

  get version(): number {
    return this.changes;
  }

  /** New metadata (health changed, draining began): a higher incarnation, gossiped as alive. */
  setMeta(meta: MemberMeta, onSent?: () => void): void {
    this.checkFits(meta);
    this.currentMeta = meta;
    this.currentIncarnation = (this.currentIncarnation + 1) >>> 0;
    this.announce(onSent);
  }

  /** Raises the incarnation above an accusation's; announce() then says we are alive. */
  outbid(accused: number): void {
    this.currentIncarnation = (Math.max(this.currentIncarnation, accused) + 1) >>> 0;
  }

  /** `onSent` runs once the announcement was sent its retransmit limit's times, or a newer one replaced it. */
  announce(onSent?: () => void): void {
    this.changes++;
    this.broadcasts.enqueue(this.node, this.alive(), onSent);
  }

  /** False when already leaving: leave() is idempotent. */
  startLeaving(): boolean {
    if (this.isLeaving) return false;
    this.isLeaving = true;
    this.changes++;
    return true;
  }

  leaveMessage(): Leave {
    return { type: 'leave', node: this.node, incarnation: this.currentIncarnation };
  }

  /** This member as push-pull lists it. */
  state(): MemberState {
    return { node: this.node, addr: this.address, incarnation: this.currentIncarnation, status: this.isLeaving ? 'left' : 'alive', meta: this.currentMeta };
  }

  private alive(meta = this.currentMeta): Alive {
    return { type: 'alive', node: this.node, incarnation: this.currentIncarnation, addr: this.address, meta };
  }

  /** Our alive rides piggybacked beside other messages, so it must leave room for them in a packet. */
  private checkFits(meta: MemberMeta): void {
    const size = encodeMessage(this.alive(meta)).length;
    if (size > this.transport.maxPacketSize / 2) throw new Error(`this member's metadata encodes to ${size} bytes; it must fit in half a ${this.transport.maxPacketSize}-byte packet`);
  }
}
