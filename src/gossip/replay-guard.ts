// Refuses a second copy of a sealed frame. Every sender stamps what it seals with its epoch (8
// random bytes drawn when the process starts) and a counter; a receiver keeps, per epoch, the
// highest counter seen and a bitmap of the WINDOW counters below it (the sliding window of
// IPsec, RFC 4303 §3.4.3, and WireGuard). Within the window frames may arrive in any order;
// a counter seen before, or older than the window, is a replay. A restarted sender draws a new
// epoch and starts over, so it is never refused.
//
// Only a key holder can create an epoch (the stamp is inside the ciphertext), so a flood of
// forgeries cannot push real senders out. Epochs are still capped, least recently heard
// dropped first, and forgotten after an idle spell. Residual risk, stated: once a sender's
// epoch is forgotten, frames captured from it within a window of its last counter could be
// replayed once each (an epoch is learnt from whatever frame of it comes first, so that
// frames reordered at first contact are not refused).

import type { Clock } from '../clock.ts';

/** Counters per sender epoch that may arrive out of order. */
export const REPLAY_WINDOW = 2048;
const WORDS = REPLAY_WINDOW / 32;

export interface ReplayGuardOptions {
  readonly clock: Clock;
  /** Sender epochs remembered at once; about 300 bytes each. Default 4096. */
  readonly maxSenders?: number;
  /** An epoch not heard from for this long is forgotten. Default 1 hour. */
  readonly senderIdleMs?: number;
}

class ReplayWindow {
  top: number;
  lastHeard: number;
  private readonly seen = new Uint32Array(WORDS);

  constructor(first: number, now: number) {
    this.top = first;
    this.lastHeard = now;
    this.mark(first);
  }

  accept(counter: number): boolean {
    if (counter > this.top) {
      const advance = counter - this.top;
      if (advance >= REPLAY_WINDOW) this.seen.fill(0);
      else for (let c = this.top + 1; c < counter; c++) this.clear(c);
      this.top = counter;
      this.mark(counter);
      return true;
    }
    if (this.top - counter >= REPLAY_WINDOW) return false;
    const word = (counter % REPLAY_WINDOW) >>> 5;
    const bit = 1 << (counter & 31);
    if ((this.seen[word]! & bit) !== 0) return false;
    this.seen[word]! |= bit;
    return true;
  }

  private mark(counter: number): void {
    this.seen[(counter % REPLAY_WINDOW) >>> 5]! |= 1 << (counter & 31);
  }

  private clear(counter: number): void {
    this.seen[(counter % REPLAY_WINDOW) >>> 5]! &= ~(1 << (counter & 31));
  }
}

export class ReplayGuard {
  private readonly clock: Clock;
  private readonly maxSenders: number;
  private readonly senderIdleMs: number;
  /** In order of last use: the first entry is the one heard from longest ago. */
  private readonly windows = new Map<bigint, ReplayWindow>();

  constructor(options: ReplayGuardOptions) {
    this.clock = options.clock;
    this.maxSenders = options.maxSenders ?? 4096;
    this.senderIdleMs = options.senderIdleMs ?? 3_600_000;
  }

  /** True the first time (epoch, counter) is seen; false for a copy or a frame too old to tell. */
  accept(epoch: bigint, counter: number): boolean {
    const now = this.clock.now();
    this.forgetIdle(now);
    const window = this.windows.get(epoch);
    if (window === undefined) {
      if (this.windows.size >= this.maxSenders) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(epoch, new ReplayWindow(counter, now));
      return true;
    }
    if (!window.accept(counter)) return false;
    window.lastHeard = now;
    this.windows.delete(epoch);
    this.windows.set(epoch, window);
    return true;
  }

  /** Sender epochs remembered now. */
  get senders(): number {
    return this.windows.size;
  }

  private forgetIdle(now: number): void {
    for (const [epoch, window] of this.windows) {
      if (now - window.lastHeard < this.senderIdleMs) return;
      this.windows.delete(epoch);
    }
  }
}
