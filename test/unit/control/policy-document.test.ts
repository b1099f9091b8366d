import { describe, expect, it } from 'vitest';
import { mergePolicy, parsePolicyDocument } from '../../../src/control/policy-document.ts';

describe('policy document', () => {
  it('accepts defaults and per-upstream policies written as in an agent config', () => {
    const result = parsePolicyDocument({ defaults: { timeout: '2s' }, upstreams: { payments: { retry: { attempts: 3 }, lb: { algorithm: 'peak_ewma' } } } });
    expect(result.ok).toBe(true);
  });

  it('refuses unknown fields, bad values and bad names, each error naming its field', () => {
    const result = parsePolicyDocument({ upstreams: { payments: { lb: { algorithm: 'fastest' }, retry: { attempts: 0 } }, 'bad name!': {} }, extra: 1 });
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.errors.map((e) => e.path);
    expect(paths).toContain('extra');
    const again = parsePolicyDocument({ upstreams: { payments: { lb: { algorithm: 'fastest' }, retry: { attempts: 0 } } } });
    expect(again.ok ? [] : again.errors.map((e) => e.path)).toEqual(['upstreams.payments.lb.algorithm', 'upstreams.payments.retry.attempts']);
    const named = parsePolicyDocument({ upstreams: { 'bad name!': {} } });
    expect(named.ok ? [] : named.errors.map((e) => e.path)).toEqual(['upstreams["bad name!"]']);
  });

  it('merges section by section: the upstream entry, then defaults, then the agent’s own', () => {
    const document = { defaults: { timeout: '2s', retry: { attempts: 2 } }, upstreams: { payments: { retry: { attempts: 5 } } } };
    const local = { timeout: '9s', lb: { algorithm: 'maglev' }, retry: { attempts: 1, perTryTimeout: '100ms' } };
    expect(mergePolicy(local, document, 'payments')).toEqual({ timeout: '2s', lb: { algorithm: 'maglev' }, retry: { attempts: 5 } });
    expect(mergePolicy(local, document, 'catalog')).toEqual({ timeout: '2s', lb: { algorithm: 'maglev' }, retry: { attempts: 2 } });
    expect(mergePolicy(undefined, { upstreams: {} }, 'catalog')).toEqual({});
  });
});
