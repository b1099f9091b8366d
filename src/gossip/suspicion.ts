// Lifeguard's dynamic suspicion timer: it starts at the longest timeout and shrinks with each
// independent confirmation (a distinct member also suspecting), reaching the shortest after
// k of them. One member's lone suspicion then waits long enough for a slow suspect to refute,
// while a member many see failing is declared dead quickly.

import type { Clock, TimerHandle } from '../clock.ts';
import { remainingSuspicionTime } from './timing.ts';

export class Suspicion {
  private readonly confirmedBy = new Set<string>();
  private readonly start: number;
  private timer: TimerHandle;
  private confirmations = 0;
  private done = false;

  /** `from` is the member whose suspicion started this; it does not count as a confirmation. */
  constructor(
    private readonly clock: Clock,
    from: string,
    private readonly k: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly onTimeout: (confirmations: number) => void,
  ) {
    this.confirmedBy.add(from);
    this.start = clock.now();
    this.timer = clock.setTimeout(() => this.fire(), k > 0 ? maxMs : minMs);
  }

  /** True when `from` is new information (the caller then re-gossips the suspicion). */
  confirm(from: string): boolean {
    if (this.done || this.confirmations >= this.k || this.confirmedBy.has(from)) return false;
    this.confirmedBy.add(from);
    this.confirmations++;
    const remaining = remainingSuspicionTime(this.confirmations, this.k, this.clock.now() - this.start, this.minMs, this.maxMs);
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, remaining));
    return true;
  }

  cancel(): void {
    this.done = true;
    this.clock.clearTimeout(this.timer);
  }

  private fire(): void {
    if (this.done) return;
    this.done = true;
    this.onTimeout(this.confirmations);
  }
}
