import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BalancerConfigError } from '../../../src/balancer/errors.ts';
import type { Picker } from '../../../src/balancer/picker.ts';
import { countPicks, endpoint, harness, lbConfig } from './fixtures.ts';

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

const addressesArb = (min: number, max: number) =>
  fc.uniqueArray(
    fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1024, max: 65535 })).map(([a, b, port]) => `10.${a}.0.${b}:${port}`),
    { minLength: min, maxLength: max },
  );

function movedFraction(before: Picker, after: Picker): number {
  let moved = 0;
  for (const key of KEYS) if (before.pick({ hashKey: key })!.address !== after.pick({ hashKey: key })!.address) moved++;
  return moved / KEYS.length;
}

describe.each(['ring_hash', 'maglev'] as const)('%s', (algorithm) => {
  it('sends a key to the same endpoint in every agent, whatever order the endpoints are listed in', () => {
    const set = ['10.0.0.3:80', '10.0.0.1:80', '10.0.0.2:80'].map((a) => endpoint(a));
    const one = harness(1).build(algorithm, set);
    const other = harness(2).build(algorithm, [...set].reverse());
    for (const key of KEYS.slice(0, 500)) expect(one.pick({ hashKey: key })).toBe(other.pick({ hashKey: key }));
  });

  it('moves about 1/n of the keys when one of n endpoints leaves or joins', () => {
    fc.assert(
      fc.property(addressesArb(4, 21), (addresses) => {
        const all = addresses.map((a) => endpoint(a));
        const n = all.length - 1;
        const h = harness();
        const without = h.build(algorithm, all.slice(1));
        const withAll = h.build(algorithm, all);
        const joined = movedFraction(without, withAll);
        const left = movedFraction(withAll, without);
        for (const fraction of [joined, left]) {
          expect(fraction).toBeGreaterThanOrEqual(0.5 / n);
          expect(fraction).toBeLessThanOrEqual(2 / n);
        }
      }),
      { numRuns: 8 },
    );
  });

  it('spreads keys evenly over equal endpoints', () => {
    const tolerance = algorithm === 'maglev' ? 0.05 : 0.3;
    fc.assert(
      fc.property(addressesArb(2, 20), (addresses) => {
        const picker = harness().build(algorithm, addresses.map((a) => endpoint(a)));
        const fair = 1 / addresses.length;
        for (const e of picker.describe().endpoints) expect(Math.abs((e.share as number) / fair - 1)).toBeLessThan(tolerance);
        // Sampled keys add binomial noise (under 5% of fair at 500 keys per endpoint).
        const counts = countPicks(picker, KEYS.length, (i) => KEYS[i]!);
        for (const count of counts.values()) expect(Math.abs(count / (KEYS.length * fair) - 1)).toBeLessThan(tolerance + 0.2);
      }),
      { numRuns: 8 },
    );
  });

  it('gives endpoints shares in proportion to their weights', () => {
    const set = [endpoint('10.0.0.1:80', { weight: 1 }), endpoint('10.0.0.2:80', { weight: 2 }), endpoint('10.0.0.3:80', { weight: 5 })];
    const shares = harness().build(algorithm, set).describe().endpoints.map((e) => e.share as number);
    const tolerance = algorithm === 'maglev' ? 0.05 : 0.3;
    [1 / 8, 2 / 8, 5 / 8].forEach((fair, i) => expect(Math.abs(shares[i]! / fair - 1)).toBeLessThan(tolerance));
  });

  it('picks at random, in proportion to weight, when the request has no hash key', () => {
    const set = [endpoint('10.0.0.1:80'), endpoint('10.0.0.2:80', { weight: 3 })];
    const counts = countPicks(harness(5).build(algorithm, set), 8000);
    expect(counts.get('10.0.0.1:80')! / 8000).toBeCloseTo(0.25, 1);
  });
});

describe('config checks', () => {
  it('refuses a maglev table size that is not prime', () => {
    const build = () => harness().build(lbConfig('maglev', { tableSize: 65_536 }), [endpoint('10.0.0.1:80')]);
    expect(build).toThrow(BalancerConfigError);
    expect(build).toThrow(expect.objectContaining({ code: 'MESHLET_LB_INVALID_CONFIG' }));
  });

  it('refuses a ring size, choice count or decay out of range', () => {
    const set = [endpoint('10.0.0.1:80')];
    expect(() => harness().build(lbConfig('ring_hash', { minRingSize: 0 }), set)).toThrow(BalancerConfigError);
    expect(() => harness().build(lbConfig('least_request', { choiceCount: 0 }), set)).toThrow(BalancerConfigError);
    expect(() => harness().build(lbConfig('peak_ewma', { decay: 0 }), set)).toThrow(BalancerConfigError);
  });
});
