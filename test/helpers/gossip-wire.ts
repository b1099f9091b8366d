// A WireMetrics that counts and TransportHandlers that record, for tests of the gossip wire.
import type { TransportHandlers } from '../../src/gossip/transport.ts';
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

  /** Drops counted since `before` (a copy of `dropped`), by reason, leaving out the reasons with none. */
  droppedSince(before: Partial<Record<DropReason, number>>): Partial<Record<DropReason, number>> {
    const since: Partial<Record<DropReason, number>> = {};
    for (const [reason, n] of Object.entries(this.dropped) as [DropReason, number][]) {
      const added = n - (before[reason] ?? 0);
      if (added !== 0) since[reason] = added;
    }
    return since;
  }

  /** Drops counted in all. */
  droppedTotal(): number {
    return Object.values(this.dropped).reduce((sum, n) => sum + n, 0);
  }
}

/** Handlers that keep what the protocol would have been given, and answer "re: " + the request. */
export class RecordingHandlers implements TransportHandlers {
  readonly packets: Buffer[] = [];
  readonly requests: Buffer[] = [];

  packet(_from: string, data: Uint8Array): void {
    this.packets.push(Buffer.from(data));
  }

  exchange(_from: string, request: Uint8Array): Promise<Uint8Array> {
    this.requests.push(Buffer.from(request));
    return Promise.resolve(Buffer.concat([Buffer.from('re: '), request]));
  }
}
