// The transmit-limited broadcast queue (memberlist's TransmitLimitedQueue): state changes
// waiting to be piggybacked on outgoing packets. Each message is encoded once, when queued;
// a newer message about a member replaces the older one, the least-sent go first, and a
// message is dropped once sent the retransmit limit's number of times.

import { encodeMessage } from './codec.ts';
import type { GossipMessage, GossipMessageType } from './messages.ts';

interface Queued {
  readonly node: string;
  readonly type: GossipMessageType;
  readonly bytes: Uint8Array;
  transmits: number;
  readonly onDone: (() => void) | undefined;
}

/** No gossip message encodes smaller than this, so a smaller room ends the packing. */
const SMALLEST_MESSAGE = 8;

export class BroadcastQueue {
  /** buckets[t] holds the messages sent t times, oldest first. */
  private readonly buckets: Set<Queued>[] = [];
  private readonly byNode = new Map<string, Queued>();

  /**
   * `retransmitLimit` is read at every packing (it grows with the cluster); past `maxLength`
   * the most-sent, oldest messages are dropped.
   */
  constructor(
    private readonly retransmitLimit: () => number,
    private readonly maxLength: number,
  ) {}

  get length(): number {
    return this.byNode.size;
  }

  /** Queues a message about `node`; `onDone` runs once it is sent the limit's times or replaced. */
  enqueue(node: string, message: GossipMessage, onDone?: () => void): void {
    const previous = this.byNode.get(node);
    if (previous) this.remove(previous);
    const item: Queued = { node, type: message.type, bytes: encodeMessage(message), transmits: 0, onDone };
    this.byNode.set(node, item);
    this.bucket(0).add(item);
    if (this.byNode.size > this.maxLength) this.dropMostSent();
  }

  /** Encoded messages that together fit in `room` bytes, least-sent first; each counts as sent. */
  take(room: number, onTaken?: (type: GossipMessageType) => void): Uint8Array[] {
    const taken: Queued[] = [];
    let left = room;
    for (let t = 0; t < this.buckets.length && left >= SMALLEST_MESSAGE; t++) {
      const bucket = this.buckets[t];
      if (!bucket) continue;
      for (const item of bucket) {
        if (left < SMALLEST_MESSAGE) break;
        if (item.bytes.length > left) continue;
        taken.push(item);
        left -= item.bytes.length;
      }
    }
    const limit = this.retransmitLimit();
    for (const item of taken) {
      this.bucket(item.transmits).delete(item);
      item.transmits++;
      onTaken?.(item.type);
      if (item.transmits >= limit) {
        this.byNode.delete(item.node);
        item.onDone?.();
      } else this.bucket(item.transmits).add(item);
    }
    return taken.map((item) => item.bytes);
  }

  /** Forgets everything queued, running no callbacks (the membership is closing). */
  clear(): void {
    this.buckets.length = 0;
    this.byNode.clear();
  }

  private bucket(transmits: number): Set<Queued> {
    let bucket = this.buckets[transmits];
    if (!bucket) {
      bucket = new Set();
      this.buckets[transmits] = bucket;
    }
    return bucket;
  }

  private remove(item: Queued): void {
    this.bucket(item.transmits).delete(item);
    this.byNode.delete(item.node);
    item.onDone?.();
  }

  private dropMostSent(): void {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const bucket = this.buckets[t];
      const oldest = bucket?.values().next().value;
      if (oldest) {
        this.remove(oldest);
        return;
      }
    }
  }
}
