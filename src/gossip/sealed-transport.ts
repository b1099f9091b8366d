// Encryption around any Transport: every datagram and every exchange request and answer is
// sealed with the keyring's primary key on the way out and opened on the way in, so the
// protocol above never sees a byte that was not authenticated, and never a byte twice.
//
// Inside the ciphertext each payload follows a 16-byte stamp, this process's epoch (8 random
// bytes) and a counter, which the receiver's ReplayGuard checks once the tag has matched.
// Datagrams and exchange frames share the counter, so a captured datagram replayed as an
// exchange request (or the reverse) is a replay too.

import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { ExchangeError } from './exchange-error.ts';
import { SEAL_OVERHEAD, type Keyring } from './keyring.ts';
import { ReplayGuard, type ReplayGuardOptions } from './replay-guard.ts';
import type { Transport, TransportHandlers } from './transport.ts';
import type { WireMetrics } from './wire-metrics.ts';

const STAMP_BYTES = 16;
/** What sealing adds to each datagram and exchange payload. */
export const SEALED_OVERHEAD = SEAL_OVERHEAD + STAMP_BYTES;

export interface SealedTransportOptions {
  /** Shared with the admin API, which rotates its keys at runtime. */
  readonly keyring: Keyring;
  readonly metrics: WireMetrics;
  readonly clock: Clock;
  /** Bounds on the replay guard's memory; see ReplayGuardOptions. */
  readonly replay?: Omit<ReplayGuardOptions, 'clock'>;
}

export class SealedTransport implements Transport {
  readonly maxPacketSize: number;
  private readonly keyring: Keyring;
  private readonly metrics: WireMetrics;
  private readonly guard: ReplayGuard;
  private readonly stamp = Buffer.alloc(STAMP_BYTES);
  private counter = 0;

  constructor(
    private readonly inner: Transport,
    options: SealedTransportOptions,
  ) {
    this.keyring = options.keyring;
    this.metrics = options.metrics;
    this.guard = new ReplayGuard({ ...options.replay, clock: options.clock });
    this.maxPacketSize = inner.maxPacketSize - SEALED_OVERHEAD;
    randomBytes(8).copy(this.stamp, 0);
  }

  get localAddress(): string {
    return this.inner.localAddress;
  }

  listen(handlers: TransportHandlers): Promise<void> {
    return this.inner.listen({
      packet: (from, data) => {
        const plaintext = this.open(data);
        if (plaintext !== undefined) handlers.packet(from, plaintext);
      },
      exchange: async (from, request) => {
        const plaintext = this.open(request);
        if (plaintext === undefined) return undefined;
        const answer = await handlers.exchange(from, plaintext);
        return answer === undefined ? undefined : this.seal(answer);
      },
    });
  }

  sendPacket(to: string, data: Uint8Array): void {
    if (data.length > this.maxPacketSize) {
      this.metrics.packetNotSent('oversize');
      return;
    }
    this.inner.sendPacket(to, this.seal(data));
  }

  async exchange(to: string, request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const answer = this.open(await this.inner.exchange(to, this.seal(request), timeoutMs));
    if (answer === undefined) throw new ExchangeError('MESHLET_GOSSIP_ANSWER_DROPPED', `the answer from ${to} did not open`);
    return answer;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private seal(payload: Uint8Array): Buffer {
    const counter = this.counter++;
    this.stamp.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 8);
    this.stamp.writeUInt32BE(counter >>> 0, 12);
    return this.keyring.seal(this.stamp, payload);
  }

  /** The payload, or undefined (counted) for a frame that must not reach the protocol. */
  private open(frame: Uint8Array): Buffer | undefined {
    const plaintext = this.keyring.open(frame);
    if (typeof plaintext === 'string') {
      this.metrics.packetDropped(plaintext);
      return undefined;
    }
    // Authenticated, so written by a key holder: a short one is a broken sender, not a replay.
    if (plaintext.length < STAMP_BYTES) {
      this.metrics.packetDropped('truncated');
      return undefined;
    }
    const epoch = plaintext.readBigUInt64BE(0);
    const counter = plaintext.readUInt32BE(8) * 0x1_0000_0000 + plaintext.readUInt32BE(12);
    if (!this.guard.accept(epoch, counter)) {
      this.metrics.packetDropped('replay');
      return undefined;
    }
    return plaintext.subarray(STAMP_BYTES);
  }
}
