// The one place that touches real time and randomness. Everything else takes a Clock and a
// Random through its constructor so tests can drive time and choices themselves.

export interface TimerHandle {
  /** Keeps the process from exiting while the timer is pending (Node's default). */
  unref(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic scale; only differences are meaningful. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Calls `fn` every `ms` until clearInterval (outlier sweeps, health checks, gossip rounds). */
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/** Returns a float in [0, 1). */
export type Random = () => number;

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

export const systemRandom: Random = Math.random;

interface FakeTimerEntry {
  at: number;
  readonly fn: () => void;
  /** Set for an interval: the next deadline is `at + every`. */
  readonly every: number | undefined;
}

/** A clock for tests: time moves only when advance() is called. */
export class FakeClock implements Clock {
  private current = 0;
  private nextId = 0;
  private readonly timers = new Map<number, FakeTimerEntry>();

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, undefined);
  }

  clearTimeout(handle: TimerHandle): void {
    if (handle instanceof FakeTimer) this.timers.delete(handle.id);
  }

  /** As Node, an interval below 1 ms runs every 1 ms. */
  setInterval(fn: () => void, ms: number): TimerHandle {
    const every = Math.max(1, ms);
    return this.add(fn, every, every);
  }

  clearInterval(handle: TimerHandle): void {
    this.clearTimeout(handle);
  }

  /**
   * Moves time forward, firing due timers in order of their deadlines (ties in the order they
   * were set); an interval fires once for each of its ticks that falls within the advance.
   */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let dueId: number | undefined;
      let dueAt = Infinity;
      for (const [id, t] of this.timers) {
        if (t.at <= target && t.at < dueAt) {
          dueAt = t.at;
          dueId = id;
        }
      }
      if (dueId === undefined) break;
      const timer = this.timers.get(dueId)!;
      this.current = timer.at;
      if (timer.every === undefined) this.timers.delete(dueId);
      else timer.at += timer.every;
      timer.fn();
    }
    this.current = target;
  }

  pendingTimers(): number {
    return this.timers.size;
  }

  private add(fn: () => void, ms: number, every: number | undefined): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn, every });
    return new FakeTimer(id);
  }
}

class FakeTimer implements TimerHandle {
  constructor(readonly id: number) {}
  unref(): void {}
}
