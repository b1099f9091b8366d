import { describe, expect, it } from 'vitest';
import type { LbConfig } from '../../../src/config/types.ts';
import { BalancerConfigError } from '../../../src/balancer/errors.ts';
import { registerPicker } from '../../../src/balancer/registry.ts';
import { ALGORITHMS, endpoint, harness, lbConfig } from './fixtures.ts';

describe('createPicker', () => {
  it('builds a picker for every algorithm the config names', () => {
    for (const algorithm of ALGORITHMS) {
      expect(harness().build(algorithm, [endpoint('10.0.0.1:80')]).algorithm).toBe(algorithm);
    }
  });

  it('refuses an algorithm nobody registered, with a stable code', () => {
    const lb = { ...lbConfig('random'), algorithm: 'fastest' } as unknown as LbConfig;
    expect(() => harness().build(lb, [])).toThrow(BalancerConfigError);
    expect(() => harness().build(lb, [])).toThrow(expect.objectContaining({ code: 'MESHLET_LB_INVALID_CONFIG' }));
  });

  it('builds a registered algorithm by its name, from the eligible endpoints', () => {
    registerPicker('first_eligible', (context) => ({
      algorithm: 'first_eligible',
      pick: () => context.endpoints[0],
      onStart: () => {},
      onEnd: () => {},
      describe: () => ({ algorithm: 'first_eligible', endpoints: [] }),
    }));
    const lb = { ...lbConfig('random'), algorithm: 'first_eligible' } as unknown as LbConfig;
    const picker = harness().build(lb, [endpoint('10.0.0.1:80', { health: 'unhealthy' }), endpoint('10.0.0.2:80')]);
    expect(picker.pick({})?.address).toBe('10.0.0.2:80');
  });
});
