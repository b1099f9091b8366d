// A WireMetrics that counts, for tests of the gossip wire.
import type { DropReason, SendFailure, StreamRefusal, WireMetrics } from '../../src/gossip/wire-metrics.ts';

export class CountingWireMetrics implements WireMetrics {
  readonly dropped: Partial<Record<DropReason, number>> = {};
  readonly refused: Partial<Record<StreamRefusal, number>> = {};
  readonly notSent: Partial<Record<SendFailure, number>> = {};
  readonly bytesIn = { count: 0 };
  readonly bytesOut = { count: 0 };

  packetDropped(reason: DropReason): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  streamRefused(reason: StreamRefusal): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
  }

  packetNotSent(reason: SendFailure): void {
    this.notSent[reason] = (this.notSent[reason] ?? 0) + 1;
  }

  bytes(direction: 'in' | 'out', count: number): void {
    (direction === 'in' ? this.bytesIn : this.bytesOut).count += count;
  }

  /** Drops counted in all. */
  droppedTotal(): number {
    return Object.values(this.dropped).reduce((sum, n) => sum + n, 0);
  }
}
