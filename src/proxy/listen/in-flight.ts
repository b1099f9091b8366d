// The client requests the agent is proxying, all listeners together: a drain waits for the last
// one, and past `limit` new ones are refused, so what peers can make the agent hold is bounded
// by that many calls' windows and buffers (README, "Limits and timeouts").
// A request counts from its admission until its client-side response closes, not until its
// outcome is recorded: a response the upstream finished but the client has not read yet still
// sits in the agent's buffers.

import type { EventEmitter } from 'node:events';
import type { Clock } from '../../clock.ts';

export class InFlightCounter {
  private count = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** One integer comparison: whether one more request may start. */
  get hasRoom(): boolean {
    return this.count < this.limit;
  }

  /** Counts a request until `response` (its ServerResponse or server stream) emits 'close'. */
  track(response: EventEmitter): void {
    this.count += 1;
    // 'close' is emitted once; `on` spares the wrapper `once` would allocate per request.
    response.on('close', this.finished);
  }

  private readonly finished = (): void => {
    this.count -= 1;
    if (this.count === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  };

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
