// Counts proxied requests in flight so a drain knows when the last one has finished.

import type { Clock } from '../clock.ts';

export class InFlightCounter {
  private count = 0;
  private idleWaiters: (() => void)[] = [];

  started(): void {
    this.count += 1;
  }

  finished(): void {
    this.count -= 1;
    if (this.count === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves true when nothing is in flight, or false when `timeoutMs` passes first. */
  whenIdle(timeoutMs: number, clock: Clock): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = clock.setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clock.clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
