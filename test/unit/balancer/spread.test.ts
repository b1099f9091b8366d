// Statistical spread of the random-based pickers, driven by the seeded PRNG (mulberry32) with
// seeds fast-check draws. Tolerances are at least seven standard deviations wide, so no seed
// makes them flake.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countPicks, endpoint, endpoints, harness } from './fixtures.ts';

const PICKS = 20_000;

describe('random', () => {
  it('spreads picks uniformly, ignoring weights', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer(), (n, seed) => {
        const set = endpoints(n).map((e, i) => ({ ...e, weight: i + 1 }));
        const counts = countPicks(harness(seed).build('random', set), PICKS);
        for (const e of set) expect(Math.abs((counts.get(e.address) ?? 0) / (PICKS / n) - 1)).toBeLessThan(0.15);
      }),
      { numRuns: 15 },
    );
  });
});

describe('least_request with no requests in flight', () => {
  it('spreads picks uniformly when weights are equal', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer(), (n, seed) => {
        const counts = countPicks(harness(seed).build('least_request', endpoints(n)), PICKS);
        for (const count of counts.values()) expect(Math.abs(count / (PICKS / n) - 1)).toBeLessThan(0.15);
        expect(counts.size).toBe(n);
      }),
      { numRuns: 15 },
    );
  });

  it('spreads picks in proportion to unequal weights', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 2, maxLength: 8 }), fc.integer(), (weights, seed) => {
        const set = weights.map((weight, i) => endpoint(`10.0.0.${i + 1}:80`, { weight }));
        const total = weights.reduce((a, b) => a + b, 0);
        const counts = countPicks(harness(seed).build('least_request', set), PICKS);
        for (const e of set) expect(Math.abs((counts.get(e.address) ?? 0) / ((PICKS * e.weight) / total) - 1)).toBeLessThan(0.05);
      }),
      { numRuns: 15 },
    );
  });
});
