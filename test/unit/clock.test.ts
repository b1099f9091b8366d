// The fake clock's intervals, which outlier sweeps, health checks and gossip rounds will be
// tested on: every due tick fires, in deadline order with the timeouts around it.
import { describe, expect, it, vi } from 'vitest';
import { FakeClock, systemClock } from '../../src/clock.ts';

describe('FakeClock intervals', () => {
  it('fires an interval once for each tick an advance passes, each at its own time', () => {
    const clock = new FakeClock();
    const ticks: number[] = [];
    clock.setInterval(() => ticks.push(clock.now()), 100);
    clock.advance(350);
    expect(ticks).toEqual([100, 200, 300]);
    clock.advance(50);
    expect(ticks).toEqual([100, 200, 300, 400]);
  });

  it('interleaves intervals and timeouts in deadline order', () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    clock.setInterval(() => fired.push(`a@${clock.now()}`), 30);
    clock.setInterval(() => fired.push(`b@${clock.now()}`), 50);
    clock.setTimeout(() => fired.push(`t@${clock.now()}`), 70);
    clock.advance(100);
    expect(fired).toEqual(['a@30', 'b@50', 'a@60', 't@70', 'a@90', 'b@100']);
  });

  it('stops at clearInterval, also when cleared from inside its own tick', () => {
    const clock = new FakeClock();
    let count = 0;
    const handle = clock.setInterval(() => {
      count += 1;
      if (count === 2) clock.clearInterval(handle);
    }, 10);
    clock.advance(100);
    expect(count).toBe(2);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('runs an interval of 0 ms every millisecond, as Node does, instead of looping forever', () => {
    const clock = new FakeClock();
    let count = 0;
    clock.setInterval(() => (count += 1), 0);
    clock.advance(5);
    expect(count).toBe(5);
  });
});

describe('systemClock intervals', () => {
  it('repeats until cleared', async () => {
    let count = 0;
    const handle = systemClock.setInterval(() => (count += 1), 5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    systemClock.clearInterval(handle);
    const seen = count;
    expect(seen).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(count).toBe(seen);
  });
});

describe('timeouts with an argument', () => {
  it('call one shared callback with each timer\'s own argument, on the fake clock and the system one', () => {
    const seen: string[] = [];
    const shared = (request: { id: string }): void => void seen.push(request.id);
    const fake = new FakeClock();
    fake.setTimeout(shared, 20, { id: 'b' });
    const cleared = fake.setTimeout(shared, 15, { id: 'x' });
    fake.setTimeout(shared, 10, { id: 'a' });
    fake.clearTimeout(cleared);
    fake.advance(30);
    expect(seen).toEqual(['a', 'b']);
    vi.useFakeTimers();
    try {
      systemClock.setTimeout(shared, 10, { id: 'c' });
      vi.advanceTimersByTime(10);
    } finally {
      vi.useRealTimers();
    }
    expect(seen).toEqual(['a', 'b', 'c']);
  });
});
