import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eligibility, eligibleEndpoints, endpointSet, type Endpoint, type ExclusionCheck, type ExclusionLevel } from '../../../src/balancer/endpoint-set.ts';
import { ALGORITHMS, endpoint, harness, lbConfig } from './fixtures.ts';

const endpointArb = fc.record({
  weight: fc.integer({ min: 1, max: 5 }),
  backup: fc.boolean(),
  health: fc.constantFrom('healthy', 'unhealthy', 'unknown' as const),
});

const setArb = fc
  .array(endpointArb, { maxLength: 10 })
  .map((specs) => endpointSet(specs.map((spec, i) => endpoint(`10.1.0.${i + 1}:${9000 + i}`, spec))));

describe('every picker', () => {
  it('picks only eligible endpoints, and nothing when none is eligible', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALGORITHMS),
        setArb,
        fc.array(fc.record({ key: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }), latency: fc.nat(500) }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.integer(),
        (algorithm, set, requests, seed) => {
          const h = harness(seed);
          const picker = h.build(lbConfig(algorithm, { tableSize: 257, minRingSize: 16 }), set);
          const eligible = new Set(eligibleEndpoints(set));
          for (const { key, latency } of requests) {
            const picked = picker.pick({ hashKey: key });
            if (eligible.size === 0) {
              expect(picked).toBeUndefined();
              continue;
            }
            expect(picked !== undefined && eligible.has(picked)).toBe(true);
            picker.onStart(picked!);
            h.clock.advance(latency);
            picker.onEnd(picked!, latency, latency > 400);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  describe.each(ALGORITHMS)('%s', (algorithm) => {
    const pickAll = (set: readonly Endpoint[], picks = 200): Set<string> => {
      const picker = harness(7).build(algorithm, set);
      const seen = new Set<string>();
      for (let i = 0; i < picks; i++) seen.add(picker.pick({ hashKey: i % 2 === 0 ? `user-${i}` : undefined })?.address ?? 'none');
      return seen;
    };

    it('leaves backups alone while a primary is eligible', () => {
      const set = [
        endpoint('10.0.0.1:80'),
        endpoint('10.0.0.2:80', { health: 'unknown' }),
        endpoint('10.0.0.3:80', { backup: true }),
        endpoint('10.0.0.4:80', { health: 'unhealthy' }),
      ];
      expect(pickAll(set)).toEqual(new Set(['10.0.0.1:80', '10.0.0.2:80']));
    });

    it('falls back to healthy backups when every primary is unhealthy', () => {
      const set = [
        endpoint('10.0.0.1:80', { health: 'unhealthy' }),
        endpoint('10.0.0.2:80', { backup: true }),
        endpoint('10.0.0.3:80', { backup: true, health: 'unhealthy' }),
      ];
      expect(pickAll(set)).toEqual(new Set(['10.0.0.2:80']));
    });

    it('picks nothing when every endpoint is unhealthy or there are none', () => {
      expect(pickAll([endpoint('10.0.0.1:80', { health: 'unhealthy' })])).toEqual(new Set(['none']));
      expect(pickAll([])).toEqual(new Set(['none']));
      expect(harness().build(algorithm, []).describe()).toEqual({ algorithm, endpoints: [] });
    });

    it('describes each eligible endpoint with its address, in-flight count and weight', () => {
      const h = harness();
      const a = endpoint('10.0.0.1:80', { weight: 3 });
      const picker = h.build(algorithm, [a, endpoint('10.0.0.2:80'), endpoint('10.0.0.3:80', { backup: true })]);
      picker.onStart(a);
      picker.onStart(a);
      const state = picker.describe();
      expect(state.algorithm).toBe(algorithm);
      expect(picker.algorithm).toBe(algorithm);
      const rows = state.endpoints.map((e) => [e.address, e.inFlight, e.weight]);
      expect(rows.sort()).toEqual([
        ['10.0.0.1:80', 2, 3],
        ['10.0.0.2:80', 0, 1],
      ]);
    });
  });
});

describe('eligibility under a panic threshold', () => {
  const addresses = (endpoints: readonly Endpoint[]) => endpoints.map((e) => e.address);
  const levels =
    (byAddress: Readonly<Record<string, ExclusionLevel>>): ExclusionCheck =>
    (e) =>
      byAddress[e.address] ?? 'none';
  const five = [1, 2, 3, 4, 5].map((i) => endpoint(`10.0.0.${i}:80`));
  const backup = endpoint('10.0.0.9:80', { backup: true });

  it('keeps to the eligible primaries while at least the threshold share of them is', () => {
    const set = endpointSet([...five, backup]);
    const check = levels({ '10.0.0.1:80': 'excluded', '10.0.0.2:80': 'barred' });
    const result = eligibility(set, check, 50);
    expect(result).toMatchObject({ panic: false, eligiblePrimaries: 3, primaries: 5 });
    expect(addresses(result.endpoints)).toEqual(['10.0.0.3:80', '10.0.0.4:80', '10.0.0.5:80']);
  });

  it('spreads over every primary but those whose breaker is open when fewer are eligible, unhealthy and ejected ones too', () => {
    const set = endpointSet([...five.slice(0, 4), endpoint('10.0.0.5:80', { health: 'unhealthy' }), backup]);
    const check = levels({ '10.0.0.1:80': 'excluded', '10.0.0.2:80': 'excluded', '10.0.0.3:80': 'barred' });
    const result = eligibility(set, check, 50);
    expect(result).toMatchObject({ panic: true, eligiblePrimaries: 1, primaries: 5 });
    expect(addresses(result.endpoints)).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.4:80', '10.0.0.5:80']);
  });

  it('never panics with a threshold of 0, and not when only open breakers are left to spread over', () => {
    const set = endpointSet(five);
    const ejected = levels({ '10.0.0.1:80': 'excluded', '10.0.0.2:80': 'excluded', '10.0.0.3:80': 'excluded', '10.0.0.4:80': 'excluded' });
    expect(eligibility(set, ejected, 0)).toMatchObject({ panic: false, endpoints: [five[4]] });
    const barred = levels({ '10.0.0.1:80': 'barred', '10.0.0.2:80': 'barred', '10.0.0.3:80': 'barred', '10.0.0.4:80': 'barred' });
    expect(eligibility(set, barred, 50)).toMatchObject({ panic: false, endpoints: [five[4]] });
  });

  it('sends calls to backups only when no primary is eligible, and to nothing when no backup is either', () => {
    const allOut = levels(Object.fromEntries(five.map((e) => [e.address, 'excluded' as const])));
    expect(eligibility(endpointSet([...five, backup]), allOut, 50)).toMatchObject({ panic: false, endpoints: [backup] });
    expect(eligibility(endpointSet([...five, { ...backup, health: 'unhealthy' }]), allOut, 50)).toMatchObject({ panic: false, endpoints: [] });
    // One primary left: it and the other primaries take the calls in panic, the backup still none.
    const oneLeft = levels(Object.fromEntries(five.slice(1).map((e) => [e.address, 'excluded' as const])));
    expect(addresses(eligibility(endpointSet([...five, backup]), oneLeft, 50).endpoints)).toEqual(addresses(five));
  });

  it('judges the share exactly at the threshold as enough', () => {
    const four = five.slice(0, 4);
    const twoOut = levels({ '10.0.0.1:80': 'excluded', '10.0.0.2:80': 'excluded' });
    expect(eligibility(endpointSet(four), twoOut, 50).panic).toBe(false);
    expect(eligibility(endpointSet(four), twoOut, 51).panic).toBe(true);
  });
});
