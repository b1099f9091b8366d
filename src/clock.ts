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
  /**
   * `fn(arg)` after `ms`: a callback shared by every request with the request's object as its
   * argument, where a callback of its own would be one more object per request, and one that
   * kept the request's memory from being reclaimed young (bench/README.md, "Timers on the request path").
   */
  setTimeout<T>(fn: (arg: T) => void, ms: number, arg: T): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Calls `fn` every `ms` until clearInterval (outlier sweeps, health checks, gossip rounds). */
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/** Returns a float in [0, 1). */
export type Random = () => number;

export const systemClock: Clock = {
  now: () => performance.now(),
  // Node keeps a timer's arguments in an array: none is made for a timer that has no argument.
  setTimeout: (fn: (arg?: unknown) => void, ms: number, arg?: unknown) => (arg === undefined ? setTimeout(fn, ms) : setTimeout(fn, ms, arg)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

export const systemRandom: Random = Math.random;

interface FakeTimerEntry {
  at: number;
  readonly id: number;
  readonly fn: () => void;
  /** Set for an interval: the next deadline is `at + every`. */
  readonly every: number | undefined;
}

/**
 * A clock for tests: time moves only when advance() is called. Timers sit in a binary heap
 * ordered by (deadline, id), so a simulation with thousands of timers stays fast.
 */
export class FakeClock implements Clock {
  private current = 0;
  private nextId = 0;
  /** Live timers by id; a cleared timer leaves the heap lazily, when it comes to the top. */
  private readonly timers = new Map<number, FakeTimerEntry>();
  private readonly heap: FakeTimerEntry[] = [];

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle;
  setTimeout<T>(fn: (arg: T) => void, ms: number, arg: T): TimerHandle;
  setTimeout<T>(fn: (arg?: T) => void, ms: number, arg?: T): TimerHandle {
    return this.add(arg === undefined ? fn : () => fn(arg), ms, undefined);
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
      const top = this.heap[0];
      if (top === undefined || top.at > target) break;
      this.pop();
      if (this.timers.get(top.id) !== top) continue;
      this.current = top.at;
      if (top.every === undefined) this.timers.delete(top.id);
      else {
        top.at += top.every;
        this.push(top);
      }
      top.fn();
    }
    this.current = target;
  }

  pendingTimers(): number {
    return this.timers.size;
  }

  private add(fn: () => void, ms: number, every: number | undefined): TimerHandle {
    const id = this.nextId++;
    const entry: FakeTimerEntry = { at: this.current + Math.max(0, ms), id, fn, every };
    this.timers.set(id, entry);
    this.push(entry);
    return new FakeTimer(id);
  }

  private push(entry: FakeTimerEntry): void {
    const heap = this.heap;
    let i = heap.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && earlier(heap[left]!, heap[least]!)) least = left;
      if (right < heap.length && earlier(heap[right]!, heap[least]!)) least = right;
      if (least === i) return;
      [heap[i], heap[least]] = [heap[least]!, heap[i]!];
      i = least;
    }
  }
}

function earlier(a: FakeTimerEntry, b: FakeTimerEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

class FakeTimer implements TimerHandle {
  constructor(readonly id: number) {}
  unref(): void {}
}
