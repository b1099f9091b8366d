// How the agent's own YAML and the control plane's policy document combine into the config in
// force: the document may set upstreams[].policy, section by section (its entry for the upstream,
// then its defaults, then the YAML); everything else is the YAML's. The merged config passes the
// same schema and cross-checks as a reload, and a NACK names the document's own fields.
import { describe, expect, it } from 'vitest';
import { parseConfigWithPolicy } from '../../../src/control/effective-config.ts';

const yaml = `
node: orders-1
admin: { listen: 127.0.0.1:0 }
upstreams:
  - name: catalog
    protocol: http
    listen: 127.0.0.1:0
    endpoints: [127.0.0.1:8081, 127.0.0.1:8082]
    policy:
      timeout: 9s
      lb: { algorithm: least_request }
      retry: { attempts: 2, perTryTimeout: 300ms }
  - name: payments
    protocol: grpc
    endpoints: [127.0.0.1:50051]
    policy:
      timeout: \${PAY_TIMEOUT:-4s}
`;
const opts = { env: {}, hostname: 'host' };

function load(document: object | string) {
  return parseConfigWithPolicy(yaml, typeof document === 'string' ? document : JSON.stringify(document), opts);
}

describe('the config in force with a policy document', () => {
  it('takes each policy section from the upstream entry, else the defaults, else the YAML, replacing a section whole', () => {
    const result = load({
      defaults: { timeout: '2s', connectTimeout: '150ms' },
      upstreams: { catalog: { retry: { attempts: 5 } }, payments: { timeout: '1s' } },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const [catalog, payments] = result.config.upstreams;
    expect(catalog!.policy.timeout).toBe(2000);
    expect(catalog!.policy.connectTimeout).toBe(150);
    expect(catalog!.policy.lb.algorithm).toBe('least_request');
    // The document's retry replaces the YAML's whole: perTryTimeout is not kept from the YAML.
    expect(catalog!.policy.retry).toMatchObject({ attempts: 5 });
    expect(catalog!.policy.retry?.perTryTimeout).toBeUndefined();
    expect(payments!.policy.timeout).toBe(1000);
    expect(payments!.policy.connectTimeout).toBe(150);
  });

  it('leaves everything outside upstreams[].policy as the YAML has it, and ignores upstreams this agent lacks', () => {
    const result = load({ upstreams: { unknown: { timeout: '1s' } } });
    const alone = parseConfigWithPolicy(yaml, undefined, opts);
    expect(result).toEqual(alone);
  });

  it('never interpolates the document: ${VAR} in a pushed policy is refused as a value, not read from the environment', () => {
    const result = parseConfigWithPolicy(yaml, JSON.stringify({ upstreams: { payments: { timeout: '${PAY_TIMEOUT}' } } }), { ...opts, env: { PAY_TIMEOUT: '3s' } });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(['upstreams.payments.timeout']);
    // The YAML's own ${VAR} still is.
    const own = parseConfigWithPolicy(yaml, '{}', { ...opts, env: { PAY_TIMEOUT: '3s' } });
    expect(own.ok && own.config.upstreams[1]!.policy.timeout).toBe(3000);
  });

  it('names a problem of a merged section by the document path it came from, and of the YAML by the file path', () => {
    // A static HTTP fallback is valid policy, but payments speaks gRPC: only the merged config can tell.
    const entry = load({ upstreams: { payments: { fallback: { status: 503 } } } });
    expect(entry.ok ? [] : entry.issues).toEqual([{ path: 'upstreams.payments.fallback', message: expect.stringContaining('cannot answer gRPC calls') }]);
    const defaults = load({ defaults: { fallback: { status: 503 } } });
    expect(defaults.ok ? [] : defaults.issues).toEqual([{ path: 'defaults.fallback', message: expect.stringMatching(/cannot answer gRPC calls.*\(upstream payments\)$/) }]);
    const schema = load({ upstreams: { catalog: { lb: { algorithm: 'fastest' } } } });
    expect(schema.ok ? [] : schema.issues.map((i) => i.path)).toEqual(['upstreams.catalog.lb.algorithm']);
    const local = parseConfigWithPolicy(yaml.replace('timeout: 9s', 'timeout: 0s'), '{}', opts);
    expect(local.ok ? [] : local.issues.map((i) => i.path)).toEqual(['upstreams[0].policy.timeout']);
  });

  it('refuses a document that is not JSON or not a policy document', () => {
    expect(load('{not json')).toMatchObject({ ok: false, issues: [{ path: '', message: expect.stringContaining('not JSON') }] });
    expect(load({ listeners: { maxConnections: 1 } })).toMatchObject({ ok: false, issues: [{ path: 'listeners' }] });
    expect(load({ upstreams: { catalog: { endpoints: ['127.0.0.1:1'] } } })).toMatchObject({ ok: false, issues: [{ path: 'upstreams.catalog.endpoints' }] });
  });
});
