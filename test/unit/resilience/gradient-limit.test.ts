// The adaptive concurrency limit in front of a local application, on a fake clock: it measures
// the application's latency at minLimit first, then follows it (falls when latency rises,
// recovers when it falls back), stays within its bounds, and never admits past its limit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { GradientLimit, MIN_RTT_JITTER, MIN_SAMPLES, type GradientLimitSettings, type LimitChange } from '../../../src/resilience/gradient-limit.ts';

const SETTINGS: GradientLimitSettings = {
  minLimit: 2,
  maxLimit: 100,
  initialLimit: 10,
  tolerance: 1.25,
  smoothing: 0.5,
  sampleWindowMs: 100,
  minRttIntervalMs: 60_000,
};

/**
 * Drives one sample window, in ten rounds of 10 ms: each round as many calls as the limit admits
 * (up to `offered`), each taking `latencyMs`; returns the calls admitted.
 */
function window(clock: FakeClock, limit: GradientLimit, offered: number, latencyMs: number): number {
  let admitted = 0;
  for (let i = 0; i < SETTINGS.sampleWindowMs / 10; i++) {
    const held: number[] = [];
    while (held.length < offered && limit.tryAcquire()) held.push(i);
    admitted += held.length;
    expect(held.length * (SETTINGS.sampleWindowMs / 10)).toBeGreaterThanOrEqual(MIN_SAMPLES);
    clock.advance(10);
    for (let j = 0; j < held.length; j++) {
      limit.release();
      limit.sample(latencyMs);
    }
  }
  return admitted;
}

function measured(changes: LimitChange[] = [], random = () => 0): { clock: FakeClock; limit: GradientLimit } {
  const clock = new FakeClock();
  const limit = new GradientLimit(clock, random, SETTINGS);
  limit.onChange = (change) => changes.push(change);
  // Measuring: held at minLimit until the first window closes.
  expect(limit.limit).toBe(SETTINGS.minLimit);
  window(clock, limit, 20, 20);
  expect(limit.minRttMs).toBe(20);
  expect(limit.limit).toBe(SETTINGS.initialLimit);
  return { clock, limit };
}

describe('GradientLimit', () => {
  it('falls when the application latency rises and recovers when it is back', () => {
    const { clock, limit } = measured();
    for (let i = 0; i < 5; i++) window(clock, limit, 200, 20);
    const healthy = limit.limit;
    expect(healthy).toBeGreaterThan(SETTINGS.initialLimit);
    for (let i = 0; i < 5; i++) window(clock, limit, 200, 80);
    const slow = limit.limit;
    expect(slow).toBeLessThan(healthy / 2);
    for (let i = 0; i < 10; i++) window(clock, limit, 200, 20);
    expect(limit.limit).toBeGreaterThan(slow * 2);
  });

  it('stays within minLimit and maxLimit', () => {
    const { clock, limit } = measured();
    for (let i = 0; i < 40; i++) window(clock, limit, 500, 20);
    expect(limit.limit).toBe(SETTINGS.maxLimit);
    for (let i = 0; i < 40; i++) window(clock, limit, 500, 2000);
    expect(limit.limit).toBe(SETTINGS.minLimit);
  });

  it('does not grow while the application never reaches half the limit', () => {
    const { clock, limit } = measured();
    for (let i = 0; i < 20; i++) window(clock, limit, 3, 20);
    expect(limit.limit).toBe(SETTINGS.initialLimit);
  });

  it('measures the minimum RTT again at minLimit after its interval', () => {
    const { clock, limit } = measured();
    window(clock, limit, 200, 20);
    const before = limit.limit;
    clock.advance(SETTINGS.minRttIntervalMs);
    // The application got faster meanwhile: the new minimum is what later windows are judged by.
    window(clock, limit, 200, 10);
    expect(limit.limit).toBe(SETTINGS.minLimit);
    window(clock, limit, 200, 10);
    expect(limit.minRttMs).toBe(10);
    expect(limit.limit).toBeGreaterThanOrEqual(before);
  });

  it('stretches the interval to the next measurement by up to 15 % at random, so instances started together do not measure together', () => {
    const { clock, limit } = measured([], () => 1);
    window(clock, limit, 200, 20);
    // Past the interval but inside its jitter: no measurement yet.
    clock.advance(SETTINGS.minRttIntervalMs);
    window(clock, limit, 200, 20);
    expect(limit.limit).toBeGreaterThan(SETTINGS.minLimit);
    clock.advance(SETTINGS.minRttIntervalMs * MIN_RTT_JITTER);
    window(clock, limit, 200, 20);
    expect(limit.limit).toBe(SETTINGS.minLimit);
  });

  it('tells a large move with its reason, not every window', () => {
    const changes: LimitChange[] = [];
    const { clock, limit } = measured(changes);
    for (let i = 0; i < 5; i++) window(clock, limit, 200, 80);
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.length).toBeLessThan(5);
    expect(changes[0]!.to).toBeLessThan(changes[0]!.from);
    expect(changes[0]!.reason).toMatch(/concurrency limit \d+ → \d+: window median latency 80\.0 ms is 4\.00× the minimum RTT 20\.0 ms/);
  });

  it('never has more calls in flight than its limit at the moment it admits one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ arrivals: fc.integer({ min: 0, max: 40 }), finishes: fc.integer({ min: 0, max: 40 }), latency: fc.integer({ min: 0, max: 500 }), advance: fc.integer({ min: 0, max: 200 }) }), { maxLength: 200 }),
        (steps) => {
          const clock = new FakeClock();
          const limit = new GradientLimit(clock, () => 0, SETTINGS);
          let held = 0;
          for (const step of steps) {
            for (let i = 0; i < step.arrivals; i++) {
              if (!limit.tryAcquire()) continue;
              held++;
              if (limit.inFlight > limit.limit) return false;
            }
            for (let i = 0; i < step.finishes && held > 0; i++, held--) {
              limit.release();
              limit.sample(step.latency);
            }
            if (limit.limit < SETTINGS.minLimit || limit.limit > SETTINGS.maxLimit) return false;
            clock.advance(step.advance);
          }
          return limit.inFlight === held;
        },
      ),
    );
  });
});
