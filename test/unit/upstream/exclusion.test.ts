// An endpoint the agent excludes (its breaker open, ejected, unreachable) leaves the picker's
// eligible set: whatever the algorithm and whatever is excluded, no pick returns it while another
// can take the call, and lifting the exclusion brings it back with its state. An unreachable
// one is the last resort: tried when nothing else is eligible, never spread to in panic.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LB_ALGORITHMS } from '../../../src/balancer/registry.ts';
import { LB_DEFAULTS } from '../../../src/config/defaults.ts';
import type { Exclusion } from '../../../src/proxy/upstream/exclusion.ts';
import type { Upstream } from '../../../src/proxy/upstream/upstream.ts';
import { catalogConfig, GET } from '../../helpers/in-memory-forwarder.ts';
import { upstreamHarness } from './fixtures.ts';

const ADDRESSES = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80'];

describe('excluded endpoints', () => {
  const step = fc.record({ index: fc.nat(ADDRESSES.length - 1), exclusion: fc.constantFrom<Exclusion>('breaker_open', 'ejected', 'unreachable'), on: fc.boolean() });
  /** With nothing eligible: the unreachable endpoints whose breaker is not open. */
  const lastResort = (upstream: Upstream) => ADDRESSES.filter((a) => upstream.endpointState(a)!.exclusions.has('unreachable') && !upstream.endpointState(a)!.exclusions.has('breaker_open'));

  it('are never picked while another endpoint is eligible and panic is off, for every algorithm', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LB_ALGORITHMS), fc.array(step, { minLength: 1, maxLength: 12 }), fc.nat(), (algorithm, steps, seed) => {
        const upstream = upstreamHarness(seed).build(catalogConfig(ADDRESSES, { lb: { ...LB_DEFAULTS, algorithm }, panicThreshold: 0 }));
        for (const { index, exclusion, on } of steps) {
          upstream.setExcluded(upstream.endpointState(ADDRESSES[index]!)!, exclusion, on);
          const eligible = ADDRESSES.filter((a) => !upstream.endpointState(a)!.exclusions.any);
          const open = eligible.length > 0 ? eligible : lastResort(upstream);
          for (let i = 0; i < 8; i++) {
            const result = upstream.pick(GET);
            if (open.length === 0) {
              expect(result.kind).toBe('fail');
            } else {
              expect(result.kind).toBe('picked');
              if (result.kind === 'picked') expect(open).toContain(result.endpoint.address);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('in panic, take calls when ejected but never with their breaker open or unreachable; out of panic, none', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LB_ALGORITHMS), fc.array(step, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 100 }), fc.nat(), (algorithm, steps, threshold, seed) => {
        const upstream = upstreamHarness(seed).build(catalogConfig(ADDRESSES, { lb: { ...LB_DEFAULTS, algorithm }, panicThreshold: threshold }));
        for (const { index, exclusion, on } of steps) {
          upstream.setExcluded(upstream.endpointState(ADDRESSES[index]!)!, exclusion, on);
          const eligible = ADDRESSES.filter((a) => !upstream.endpointState(a)!.exclusions.any);
          const panic = eligible.length > 0 && eligible.length * 100 < threshold * ADDRESSES.length;
          const spread = ADDRESSES.filter((a) => !upstream.endpointState(a)!.exclusions.has('breaker_open') && !upstream.endpointState(a)!.exclusions.has('unreachable'));
          const allowed = panic ? spread : eligible.length > 0 ? eligible : lastResort(upstream);
          expect((upstream.describe() as { panic: boolean }).panic).toBe(panic && allowed.length > eligible.length);
          for (let i = 0; i < 8; i++) {
            const result = upstream.pick(GET);
            if (allowed.length === 0) expect(result.kind).toBe('fail');
            else expect(result.kind === 'picked' && allowed.includes(result.endpoint.address)).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keep their state: lifting the exclusion gives back the same endpoint state and its lease', () => {
    const upstream = upstreamHarness().build(catalogConfig(ADDRESSES.slice(0, 2)));
    const state = upstream.endpointState(ADDRESSES[0]!)!;
    const lease = state.lease;
    upstream.setExcluded(state, 'breaker_open', true);
    upstream.setExcluded(state, 'ejected', true);
    upstream.setExcluded(state, 'breaker_open', false);
    expect(new Set(Array.from({ length: 10 }, () => upstream.pick(GET)).map((r) => (r.kind === 'picked' ? r.endpoint.address : r.kind)))).toEqual(new Set([ADDRESSES[1]]));
    upstream.setExcluded(state, 'ejected', false);
    const picks = Array.from({ length: 10 }, () => upstream.pick(GET));
    expect(picks.some((r) => r.kind === 'picked' && r.endpoint === state)).toBe(true);
    expect(state.lease).toBe(lease);
    expect((upstream.describe() as { endpoints: { excluded: string[] }[] }).endpoints[0]!.excluded).toEqual([]);
  });
});
