// Every timer and wait of one membership, so close() stops them all at once: timers are
// cleared, a timer already firing does nothing, and whoever waits (a join backoff, leave())
// is let go instead of hanging on a timer that will never fire.

import type { Clock, TimerHandle } from '../clock.ts';

export class TimerScope {
  private readonly timers = new Set<TimerHandle>();
  private readonly waiting = new Set<() => void>();
  private isClosed = false;

  constructor(private readonly clock: Clock) {}

  get closed(): boolean {
    return this.isClosed;
  }

  after(ms: number, fn: () => void): TimerHandle {
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      if (!this.isClosed) fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  every(ms: number, fn: () => void): void {
    this.timers.add(this.clock.setInterval(() => !this.isClosed && fn(), ms));
  }

  cancel(timer: TimerHandle): void {
    this.clock.clearTimeout(timer);
    this.timers.delete(timer);
  }

  /** Resolves after `ms`, or at once when the scope closes. */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.add(resolve);
      this.after(ms, () => {
        this.waiting.delete(resolve);
        resolve();
      });
    });
  }

  /** `resolve` is called by close() if nothing else called it first. */
  releaseOnClose(resolve: () => void): void {
    this.waiting.add(resolve);
  }

  /** `resolve` was called by someone else: close() has nothing left to release. */
  released(resolve: () => void): void {
    this.waiting.delete(resolve);
  }

  close(): void {
    this.isClosed = true;
    for (const timer of this.timers) this.clock.clearTimeout(timer);
    this.timers.clear();
    for (const resolve of this.waiting) resolve();
    this.waiting.clear();
  }
}
