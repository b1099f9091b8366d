import { describe, expect, it } from 'vitest';
import { analyse, type Poll } from '../../../bench/faults/analyse.ts';
import type { Sample } from '../../../bench/faults/paced-client.ts';

const ok = (at: number, latencyMs = 2): Sample => ({ at, latencyMs, status: 200, instance: 'i1', fallback: undefined });

/** Polls every 250 ms over 15 s; `perPoll(i, at)` gives what each instance received since the last poll. */
function polls(perPoll: (instance: number, at: number) => number, alive: (instance: number, at: number) => boolean = () => true): Poll[] {
  const totals = [0, 0, 0];
  const out: Poll[] = [];
  for (let at = 0; at <= 15_000; at += 250) {
    out.push({ at, stats: totals.map((_, i) => (alive(i, at) ? { requests: (totals[i]! += perPoll(i, at)), accepts: 0, errors: 0 } : undefined)) });
  }
  return out;
}

describe('fault analysis', () => {
  it('judges the fault phase apart from the healthy one', () => {
    const samples = [...Array.from({ length: 100 }, (_, i) => ok(1000 + i * 10, 1)), ...Array.from({ length: 100 }, (_, i) => ok(5000 + i * 50, i < 98 ? 3 : 50)), { ...ok(9000), status: 503, fallback: 'static' }];
    const result = analyse(samples, polls(() => 10), 5000, 15_000, undefined);
    expect(result.requests).toBe(101);
    expect(result.successPercent).toBeCloseTo((100 * 100) / 101);
    expect(result.fallbacks).toBe(1);
    expect(result.healthyP99Ms).toBe(1);
    expect(result.p50Ms).toBe(3);
    expect(result.maxMs).toBe(50);
    // Nothing was sent in the fault's last 5 s (from 10 s on).
    expect(result.tailP99Ms).toBeNaN();
    expect(analyse([...samples, ok(12_000, 7)], polls(() => 10), 5000, 15_000, undefined).tailP99Ms).toBe(7);
  });

  it('counts the connections accepted in the fault\'s last 5 s only', () => {
    const withAccepts: Poll[] = [];
    for (let at = 0; at <= 15_000; at += 250) withAccepts.push({ at, stats: [{ requests: 0, accepts: at < 8000 ? at / 250 : 32, errors: 0 }] });
    expect(analyse([ok(6000)], withAccepts, 5000, 15_000, undefined).tailAccepts).toBe(0);
  });

  it('finds when the bad instance stopped getting traffic, and its share after', () => {
    // Instance 2 gets its third until 7 s, then nothing.
    const result = analyse([ok(6000)], polls((i, at) => (i === 2 && at > 7000 ? 0 : 10)), 5000, 15_000, 2);
    expect(result.timeToStopMs).toBe(2000);
    expect(result.badSharePercent).toBe(0);
  });

  it('says never when the bad instance keeps its share to the end', () => {
    const result = analyse([ok(6000)], polls(() => 10), 5000, 15_000, 2);
    expect(result.timeToStopMs).toBeNull();
    expect(result.badSharePercent).toBeCloseTo(100 / 3);
  });

  it('keeps a killed instance at what it last reported', () => {
    const result = analyse([ok(6000)], polls(() => 10, (i, at) => !(i === 2 && at > 5000)), 5000, 15_000, undefined);
    // 2 live instances × 40 polls × 10 after the fault, per the one client request.
    expect(result.amplification).toBe(800);
  });
});
