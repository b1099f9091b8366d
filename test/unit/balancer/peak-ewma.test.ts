import { describe, expect, it } from 'vitest';
import { EndpointLoad } from '../../../src/balancer/load-table.ts';
import { decayedEstimate, failureFactor, observeLatency, peakEwmaCost } from '../../../src/balancer/peak-ewma.ts';
import type { Endpoint } from '../../../src/balancer/endpoint-set.ts';
import type { Picker } from '../../../src/balancer/picker.ts';
import type { FakeClock } from '../../../src/clock.ts';
import { endpoint, harness, lbConfig } from './fixtures.ts';

const DECAY = 1000;

describe('peak EWMA estimate', () => {
  it.each([
    // [previous ms, ms since it, observed ms, new estimate]
    [10, 0, 50, 50], // a peak is taken at once
    [10, 10_000, 50, 50],
    [50, 0, 10, 50], // no time passed: the old estimate stands
    [50, DECAY, 10, 50 * Math.exp(-1) + 10 * (1 - Math.exp(-1))],
    [50, 100 * DECAY, 10, 10], // long ago: only the new sample counts
  ])('from %d ms, %d ms later, observing %d ms gives %d ms', (previous, elapsed, observed, expected) => {
    const load = new EndpointLoad();
    observeLatency(load, previous, 0, DECAY);
    observeLatency(load, observed, elapsed, DECAY);
    expect(load.ewmaMs).toBeCloseTo(expected, 9);
  });

  it('decays toward zero while nothing is observed, and costs more with requests in flight', () => {
    const load = new EndpointLoad();
    observeLatency(load, 100, 0, DECAY);
    expect(decayedEstimate(load, DECAY, DECAY)).toBeCloseTo(100 * Math.exp(-1), 9);
    load.started();
    load.started();
    expect(peakEwmaCost(load, 0, DECAY)).toBe(300);
  });

  it.each([
    // [ms since the last failure, factor]
    [Number.POSITIVE_INFINITY, 1], // never failed
    [0, 2],
    [DECAY, 1 + Math.exp(-1)],
    [100 * DECAY, 1],
  ])('multiplies the cost by the failure factor: %d ms after a failure, %d', (since, factor) => {
    const load = new EndpointLoad();
    observeLatency(load, 10, 0, DECAY);
    load.failedAtMs = Number.isFinite(since) ? 0 : Number.NEGATIVE_INFINITY;
    const now = Number.isFinite(since) ? since : 0;
    expect(failureFactor(load, now, DECAY)).toBeCloseTo(factor, 9);
    expect(peakEwmaCost(load, now, DECAY)).toBeCloseTo(decayedEstimate(load, now, DECAY) * factor, 9);
  });

  it('costs nothing for an endpoint never measured, until a request is out to it', () => {
    const load = new EndpointLoad();
    expect(peakEwmaCost(load, 0, DECAY)).toBe(0);
    load.started();
    expect(peakEwmaCost(load, 0, DECAY)).toBeGreaterThan(1e9);
  });
});

/** One request at a time: pick, wait out its latency on the fake clock, report it (failed as `fails` says). */
function serve(picker: Picker, clock: FakeClock, latencyOf: (e: Endpoint) => number, requests: number, fails: (e: Endpoint) => boolean = () => false): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < requests; i++) {
    const picked = picker.pick({})!;
    counts.set(picked.address, (counts.get(picked.address) ?? 0) + 1);
    picker.onStart(picked);
    const latency = latencyOf(picked);
    clock.advance(latency);
    picker.onEnd(picked, latency, fails(picked));
  }
  return counts;
}

describe('peak_ewma', () => {
  const fast = endpoint('10.0.0.1:80');
  const slow = endpoint('10.0.0.2:80');

  it('steers away from a slow endpoint, and back to it after the decay once it is fast again', () => {
    const h = harness();
    const picker = h.build(lbConfig('peak_ewma', { decay: DECAY }), [fast, slow]);
    const slowPhase = serve(picker, h.clock, (e) => (e === slow ? 200 : 5), 400);
    expect(slowPhase.get(slow.address) ?? 0).toBeLessThanOrEqual(2);

    // The slow endpoint recovers; its old estimate must first decay below the fast one's.
    serve(picker, h.clock, () => 5, 2000);
    const recovered = serve(picker, h.clock, () => 5, 400);
    expect(recovered.get(slow.address)! / 400).toBeGreaterThan(0.3);
  });

  it('prefers a slower idle endpoint over a fast one with a queue', () => {
    const h = harness();
    const picker = h.build(lbConfig('peak_ewma', { decay: DECAY }), [fast, slow]);
    serve(picker, h.clock, (e) => (e === slow ? 100 : 10), 20);
    for (let i = 0; i < 20; i++) picker.onStart(fast); // cost 10 × 21 against 100 × 1
    expect(picker.pick({})).toBe(slow);
  });

  it('tries a newly added endpoint at once, one request at a time until it answers', () => {
    const h = harness();
    const lb = lbConfig('peak_ewma', { decay: DECAY });
    const old = h.build(lb, [fast, slow]);
    serve(old, h.clock, () => 50, 20);
    const added = endpoint('10.0.0.3:80');
    const picker = h.build(lb, [fast, slow, added], old);
    const firstPicks = Array.from({ length: 10 }, () => picker.pick({}));
    expect(firstPicks).toContain(added);
    picker.onStart(added);
    for (let i = 0; i < 50; i++) expect(picker.pick({})).not.toBe(added);
  });

  it('does not let fast failures make an endpoint look fast', () => {
    const h = harness();
    const picker = h.build(lbConfig('peak_ewma', { decay: DECAY }), [fast, slow]);
    serve(picker, h.clock, (e) => (e === slow ? 100 : 20), 20);
    const before = picker.describe().endpoints.find((e) => e.address === slow.address)!.ewmaMs as number;
    for (let i = 0; i < 10; i++) {
      picker.onStart(slow);
      picker.onEnd(slow, 1, true);
    }
    const after = picker.describe().endpoints.find((e) => e.address === slow.address)!.ewmaMs as number;
    expect(after).toBeGreaterThanOrEqual(before);
  });

  it('gives an endpoint that fails every second call, as fast as its peers answer, few calls, and its share back once it stops', () => {
    const h = harness(3);
    const set = [endpoint('10.0.0.1:80'), endpoint('10.0.0.2:80'), endpoint('10.0.0.3:80')];
    const bad = set[2]!;
    const picker = h.build(lbConfig('peak_ewma', { decay: DECAY }), set);
    serve(picker, h.clock, () => 5, 300);
    let calls = 0;
    const failing = serve(picker, h.clock, () => 5, 600, (e) => e === bad && ++calls % 2 === 0);
    expect((failing.get(bad.address) ?? 0) / 600).toBeLessThan(0.05);
    // Healthy again: the doubling fades with the decay.
    serve(picker, h.clock, () => 5, 2000);
    const healed = serve(picker, h.clock, () => 5, 600);
    expect(healed.get(bad.address)! / 600).toBeGreaterThan(0.2);
  });

  it('describes each endpoint latency estimate', () => {
    const h = harness();
    const picker = h.build(lbConfig('peak_ewma', { decay: DECAY }), [fast, slow]);
    picker.onStart(fast);
    picker.onEnd(fast, 40, false);
    const byAddress = new Map(picker.describe().endpoints.map((e) => [e.address, e.ewmaMs]));
    expect(byAddress.get(fast.address)).toBe(40);
    expect(byAddress.get(slow.address)).toBeUndefined();
  });
});

describe('peak_ewma choiceCount', () => {
  it('compares choiceCount endpoints per pick: with all three compared, the fastest always wins', () => {
    const h = harness(7);
    const set = [endpoint('10.0.0.1:80'), endpoint('10.0.0.2:80'), endpoint('10.0.0.3:80')];
    const latencies: Record<string, number> = { '10.0.0.1:80': 5, '10.0.0.2:80': 50, '10.0.0.3:80': 500 };
    const picksOf = (choiceCount: number): Map<string, number> => {
      const picker = h.build(lbConfig('peak_ewma', { decay: 1_000_000, choiceCount }), set);
      for (const e of set) {
        picker.onStart(e);
        picker.onEnd(e, latencies[e.address]!, false);
      }
      const counts = new Map<string, number>();
      for (let i = 0; i < 100; i++) {
        const address = picker.pick({})!.address;
        counts.set(address, (counts.get(address) ?? 0) + 1);
      }
      return counts;
    };
    expect(picksOf(3).get('10.0.0.1:80')).toBe(100);
    // Two of three: a pair without the fastest endpoint comes up about a third of the time.
    expect(picksOf(2).get('10.0.0.1:80')).toBeLessThan(90);
  });
});
