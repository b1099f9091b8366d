// The token bucket the upstream (and inbound) rate limits stand on: a burst at once, then the
// rate, refilled on read from the clock, and never more than burst + rate × t in any window.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { TokenBucket } from '../../../src/resilience/token-bucket.ts';

describe('TokenBucket', () => {
  it('admits the burst at once, then refuses until a token is earned', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(clock, 10, 3);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([true, true, true]);
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.retryAfterMs()).toBeCloseTo(100);
    clock.advance(60);
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.retryAfterMs()).toBeCloseTo(40);
    clock.advance(40);
    expect(bucket.retryAfterMs()).toBe(0);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  it('does not save up more than the burst while idle', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(clock, 100, 2);
    clock.advance(60_000);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([true, true, false]);
  });

  it('admits at most burst + rate × t over any window, whatever the call times', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 5000, noNaN: true }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 300 }),
        (rate, burst, gaps) => {
          const clock = new FakeClock();
          const bucket = new TokenBucket(clock, rate, burst);
          const admittedAt: number[] = [];
          for (const gap of gaps) {
            clock.advance(gap);
            if (bucket.tryTake()) admittedAt.push(clock.now());
          }
          // Every window [admittedAt[i], admittedAt[j]] holds j - i + 1 admissions.
          for (let i = 0; i < admittedAt.length; i++) {
            for (let j = i; j < admittedAt.length; j++) {
              const seconds = (admittedAt[j]! - admittedAt[i]!) / 1000;
              expect(j - i + 1).toBeLessThanOrEqual(burst + rate * seconds + 1e-9);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('admits the full rate when calls keep coming', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(clock, 50, 5);
    let admitted = 0;
    for (let ms = 0; ms <= 10_000; ms++) {
      if (bucket.tryTake()) admitted++;
      clock.advance(1);
    }
    // 5 at once plus 50 a second for 10 s.
    expect(admitted).toBeGreaterThanOrEqual(500);
    expect(admitted).toBeLessThanOrEqual(506);
  });
});
