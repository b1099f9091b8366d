import { describe, expect, it } from 'vitest';
import { MAX_DIFF_LINES, policyDiff } from '../../../src/control/policy-diff.ts';

describe('policy diff', () => {
  it('one line per changed field: added, removed, changed, sorted by path', () => {
    const before = { defaults: { lb: { algorithm: 'round_robin' } }, upstreams: { payments: { timeout: '1s', retry: { attempts: 3 } } } };
    const after = { defaults: { lb: { algorithm: 'maglev' } }, upstreams: { payments: { timeout: '2s' }, catalog: { hedge: { delay: '50ms' } } } };
    expect(policyDiff(before, after)).toEqual([
      '~ defaults.lb.algorithm: round_robin → maglev',
      '+ upstreams.catalog.hedge.delay: 50ms',
      '- upstreams.payments.retry.attempts: 3',
      '~ upstreams.payments.timeout: 1s → 2s',
    ]);
  });

  it('shows arrays and non-strings as JSON, an empty object as one value, nothing for no change', () => {
    expect(policyDiff({}, { upstreams: { a: { retry: { on: ['5xx', 'reset'], attempts: 2 } }, b: {} } })).toEqual([
      '+ upstreams.a.retry.attempts: 2',
      '+ upstreams.a.retry.on: ["5xx","reset"]',
      '+ upstreams.b: {}',
    ]);
    expect(policyDiff({ upstreams: { a: { timeout: '1s' } } }, { upstreams: { a: { timeout: '1s' } } })).toEqual([]);
  });

  it(`stops at ${MAX_DIFF_LINES} lines and says how many more`, () => {
    const upstreams = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`u${i}`, { timeout: '1s' }]));
    const diff = policyDiff({}, { upstreams });
    expect(diff.length).toBe(MAX_DIFF_LINES);
    expect(diff[diff.length - 1]).toBe(`… and ${1500 - MAX_DIFF_LINES + 1} more changes`);
  });
});
