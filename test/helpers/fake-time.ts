// Driving code that waits on a FakeClock behind promises (the retry step's p-retry loop): each
// step of such a loop sits a few microtasks after the timer that let it go, so time moves in
// 1 ms steps with the microtasks run between them, as they would be between real timers.
import type { FakeClock } from '../../src/clock.ts';

/** Runs every microtask queued now and those they queue, up to a depth far past any loop's. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 100; i++) await Promise.resolve();
}

/** Moves the clock `ms` forward 1 ms at a time; at each ms, what falls due runs with the microtasks it queues before time moves on. */
export async function elapse(clock: FakeClock, ms: number): Promise<void> {
  await runDueNow(clock);
  for (let t = 0; t < ms; t++) {
    clock.advance(1);
    await runDueNow(clock);
  }
}

/** A timer's microtasks may set a 0 ms timer, whose may set another: a few rounds at the same time. */
async function runDueNow(clock: FakeClock): Promise<void> {
  for (let round = 0; round < 4; round++) {
    await flushMicrotasks();
    clock.advance(0);
  }
  await flushMicrotasks();
}
