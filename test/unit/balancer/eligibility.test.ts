import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eligibleEndpoints, endpointSet, type Endpoint } from '../../../src/balancer/endpoint-set.ts';
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
