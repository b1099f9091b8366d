// The p95 a "p95" hedge waits for: within a bucket (10 %) of the true quantile, nothing below
// twenty samples, and only the last ten to twenty seconds count.
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { LatencyQuantile } from '../../../src/resilience/latency-quantile.ts';

describe('the latency quantile', () => {
  it('says nothing below twenty samples', () => {
    const q = new LatencyQuantile(new FakeClock());
    for (let i = 0; i < 19; i++) q.record(10);
    expect(q.quantile(0.95)).toBeUndefined();
    q.record(10);
    expect(q.quantile(0.95)).toBeGreaterThanOrEqual(10);
  });

  it('finds the p95 within 10 %', () => {
    const q = new LatencyQuantile(new FakeClock());
    // 1 ms to 100 ms evenly: the p95 is 95 ms.
    for (let i = 1; i <= 100; i++) q.record(i);
    const p95 = q.quantile(0.95)!;
    expect(p95).toBeGreaterThanOrEqual(95);
    expect(p95).toBeLessThanOrEqual(95 * 1.1);
  });

  it('forgets what is older than two windows', () => {
    const clock = new FakeClock();
    const q = new LatencyQuantile(clock);
    for (let i = 0; i < 50; i++) q.record(100);
    clock.advance(10_000);
    for (let i = 0; i < 50; i++) q.record(5);
    // Half of the samples are still the old 100 ms ones.
    expect(q.quantile(0.95)).toBeGreaterThanOrEqual(100);
    clock.advance(10_000);
    for (let i = 0; i < 50; i++) q.record(5);
    expect(q.quantile(0.95)).toBeLessThanOrEqual(5.5);
  });
});
