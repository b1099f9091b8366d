import { describe, expect, it } from 'vitest';
import type { LbConfig } from '../../../src/config/types.ts';
import { BalancerConfigError } from '../../../src/balancer/errors.ts';
import { registerLoadBalancerType } from '../../../src/balancer/registry.ts';
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
    registerLoadBalancerType('first_eligible', {
      fields: [],
      validate: () => [],
      create: (context) => ({
        algorithm: 'first_eligible',
        pick: () => context.endpoints[0],
        onStart: () => {},
        onEnd: () => {},
        describe: () => ({ algorithm: 'first_eligible', endpoints: [] }),
      }),
    });
    const lb = { ...lbConfig('random'), algorithm: 'first_eligible' } as unknown as LbConfig;
    const picker = harness().build(lb, [endpoint('10.0.0.1:80', { health: 'unhealthy' }), endpoint('10.0.0.2:80')]);
    expect(picker.pick({})?.address).toBe('10.0.0.2:80');
  });

  it("refuses what breaks the algorithm's registered rules, the very rules the config reports", () => {
    registerLoadBalancerType('even_only', {
      fields: ['choiceCount'],
      validate: (lb) => (lb.choiceCount % 2 === 0 ? [] : [{ field: 'choiceCount', message: 'must be even' }]),
      create: (context) => harness().build('random', context.set),
    });
    const lb = (choiceCount: number) => ({ ...lbConfig('random'), algorithm: 'even_only', choiceCount }) as unknown as LbConfig;
    expect(() => harness().build(lb(3), [endpoint('10.0.0.1:80')])).toThrow('even_only choiceCount must be even');
    expect(harness().build(lb(4), [endpoint('10.0.0.1:80')]).pick({})?.address).toBe('10.0.0.1:80');
  });

  it('refuses a maglev table with fewer slots than endpoints, which only the endpoints can tell', () => {
    const build = () => harness().build(lbConfig('maglev', { tableSize: 2 }), [endpoint('10.0.0.1:80'), endpoint('10.0.0.2:80'), endpoint('10.0.0.3:80')]);
    expect(build).toThrow(BalancerConfigError);
    expect(build).toThrow('maglev tableSize 2 has fewer slots than the 3 endpoints');
  });
});
