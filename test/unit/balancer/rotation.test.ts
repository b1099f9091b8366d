import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endpointSet } from '../../../src/balancer/endpoint-set.ts';
import { createPicker } from '../../../src/balancer/registry.ts';
import { FakeClock } from '../../../src/clock.ts';
import { countPicks, endpoint, endpoints, harness, lbConfig } from './fixtures.ts';

describe('round_robin', () => {
  it('visits every endpoint once per round, ignoring weights', () => {
    const picker = harness(3).build('round_robin', endpoints(5, { weight: 4 }).concat(endpoint('10.9.0.1:80')));
    const rounds = Array.from({ length: 4 }, () => Array.from({ length: 6 }, () => picker.pick({})!.address));
    for (const round of rounds) expect(new Set(round).size).toBe(6);
    expect(rounds[1]).toEqual(rounds[0]);
  });

  it('starts at a different endpoint in different agents', () => {
    const firsts = new Set(Array.from({ length: 20 }, (_, seed) => harness(seed).build('round_robin', endpoints(5)).pick({})!.address));
    expect(firsts.size).toBeGreaterThan(1);
  });
});

describe('weighted_round_robin', () => {
  it('interleaves a heavy endpoint with light ones, as nginx does', () => {
    const set = endpointSet([endpoint('a:1', { weight: 5 }), endpoint('b:1'), endpoint('c:1')]);
    const picker = createPicker(lbConfig('weighted_round_robin'), set, { clock: new FakeClock(), random: () => 0 });
    const sequence = Array.from({ length: 14 }, () => picker.pick({})!.address[0]).join(' ');
    expect(sequence).toBe('a a b a c a a a a b a c a a');
  });

  it('goes on with its sequence across a new snapshot of the same endpoints (a breaker, an ejection, a health flip elsewhere)', () => {
    const set = endpointSet([endpoint('a:1', { weight: 5 }), endpoint('b:1'), endpoint('c:1')]);
    const deps = { clock: new FakeClock(), random: () => 0 };
    let picker = createPicker(lbConfig('weighted_round_robin'), set, deps);
    const sequence: string[] = [];
    for (let i = 0; i < 14; i++) {
      sequence.push(picker.pick({})!.address[0]!);
      picker = createPicker(lbConfig('weighted_round_robin'), endpointSet(set.endpoints, i + 2), deps, picker);
    }
    expect(sequence.join(' ')).toBe('a a b a c a a a a b a c a a');
  });

  it('gives each endpoint exactly its weight in picks over every full cycle', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 8 }), fc.integer(), fc.integer({ min: 1, max: 3 }), (weights, seed, cycles) => {
        const set = weights.map((weight, i) => endpoint(`10.0.0.${i + 1}:80`, { weight }));
        const picker = harness(seed).build('weighted_round_robin', set);
        const total = weights.reduce((a, b) => a + b, 0);
        for (let cycle = 0; cycle < cycles; cycle++) {
          const counts = countPicks(picker, total);
          for (const e of set) expect(counts.get(e.address) ?? 0).toBe(e.weight);
        }
      }),
      { numRuns: 100 },
    );
  });
});
