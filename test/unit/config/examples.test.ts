import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../src/config/load.ts';
import { redactConfig } from '../../../src/config/redact.ts';
import type { AgentConfig } from '../../../src/config/types.ts';

// examples/agent.yaml is the config users copy: every section the agent knows, in the shape they write.
const fullExample = new URL('../../../examples/agent.yaml', import.meta.url);
const localExample = new URL('../../../examples/agent.local.yaml', import.meta.url);
// The example takes its gossip key from the environment, as a deployment would.
const GOSSIP_KEY = Buffer.alloc(32, 7).toString('base64');
const exampleEnv = { MESHLET_TOKEN: 't0ken', MESHLET_GOSSIP_KEY: GOSSIP_KEY };

async function load(file: URL, env: Record<string, string> = {}): Promise<AgentConfig> {
  const result = await loadConfigFile(file, { env, hostname: 'test-host' });
  if (!result.ok) throw new Error(`expected ${file.pathname} to parse: ${JSON.stringify(result.issues)}`);
  return result.config;
}

describe('the full example, examples/agent.yaml', () => {
  it('parses, with MESHLET_TOKEN and MESHLET_GOSSIP_KEY set, into the values it states', async () => {
    const config = await load(fullExample, exampleEnv);

    expect(config.node).toBe('orders-1');
    expect(config.admin.listen).toEqual({ host: '127.0.0.1', port: 9901, text: '127.0.0.1:9901' });
    expect(config.proxy?.listen.port).toBe(15001);
    expect(config.gossip?.join).toEqual([{ host: '127.0.0.1', port: 7947, text: '127.0.0.1:7947' }]);
    expect(config.gossip?.keys).toEqual([GOSSIP_KEY]);
    expect(config.control).toEqual({ address: [{ host: '127.0.0.1', port: 7950, text: '127.0.0.1:7950' }], token: 't0ken', reportInterval: 5000 });
    expect(config.services[0]?.health).toEqual({ http: '/healthz', interval: 3000, timeout: 1000, fall: 2, rise: 5 });

    const [payments, catalog] = config.upstreams;
    expect(payments?.protocol).toBe('grpc');
    expect(payments?.endpoints.map((e) => e.address)).toEqual(['127.0.0.1:50051', '127.0.0.1:50052']);
    expect(payments?.policy.lb).toEqual({ algorithm: 'peak_ewma', decay: 10_000, choiceCount: 2, minRingSize: 1024, tableSize: 65_537 });
    expect(payments?.policy.timeout).toBe(2000);
    expect(payments?.policy.retry).toEqual({
      attempts: 3,
      perTryTimeout: 500,
      backoff: { base: 25, max: 250 },
      on: ['connect-failure', 'reset', 'unavailable', '5xx'],
      budget: { ratio: 0.2, minPerSecond: 10 },
      bufferLimit: 65_536,
    });
    expect(payments?.policy.circuitBreaker).toEqual({ errorThresholdPercentage: 50, volumeThreshold: 20, window: 10_000, resetTimeout: 5000, halfOpenRequests: 1 });
    expect(payments?.policy.outlierDetection?.baseEjectionTime).toBe(30_000);
    expect(payments?.policy.fallback).toEqual({ grpcStatus: 'UNAVAILABLE', message: 'payments is degraded' });

    expect(catalog?.endpoints).toEqual([
      { address: '127.0.0.1:8081', host: '127.0.0.1', port: 8081, weight: 3, zone: 'a', backup: false, metadata: {} },
      { address: '127.0.0.1:8082', host: '127.0.0.1', port: 8082, weight: 1, zone: 'b', backup: false, metadata: {} },
      { address: '127.0.0.1:8083', host: '127.0.0.1', port: 8083, weight: 1, backup: true, metadata: {} },
    ]);
    expect(catalog?.policy.lb.hashOn).toEqual({ header: 'x-user-id' });
    expect(catalog?.policy.connectTimeout).toBe(1000);
    expect(catalog?.policy.retry?.backoff).toEqual({ base: 25, max: 250 });
    expect(catalog?.policy.fallback).toEqual({ status: 503, headers: { 'content-type': 'application/json' }, body: '{"degraded":true}' });

    expect(config.log).toEqual({ level: 'info', access: false });
    expect(config.drainTimeout).toBe(10_000);
  });

  it('warns about no section: gossip, health checks and the control plane all run', async () => {
    const result = await loadConfigFile(fullExample, { env: exampleEnv, hostname: 'test-host' });
    expect(result.ok && result.warnings).toEqual([]);
  });

  it('refuses to start without MESHLET_TOKEN, naming the field and the variable', async () => {
    const result = await loadConfigFile(fullExample, { env: { MESHLET_GOSSIP_KEY: GOSSIP_KEY }, hostname: 'test-host' });
    expect(result).toEqual({
      ok: false,
      issues: [{ path: 'control.token', message: 'environment variable MESHLET_TOKEN is not set and has no default' }],
    });
  });

  it('refuses to start without MESHLET_GOSSIP_KEY, naming the key and the variable', async () => {
    const result = await loadConfigFile(fullExample, { env: { MESHLET_TOKEN: 't0ken' }, hostname: 'test-host' });
    expect(result).toEqual({
      ok: false,
      issues: [{ path: 'gossip.keys[0]', message: 'environment variable MESHLET_GOSSIP_KEY is not set and has no default' }],
    });
  });

  it('shows the admin API no token and no gossip key', async () => {
    const config = await load(fullExample, exampleEnv);
    const shown = JSON.stringify(redactConfig(config));
    expect(shown).not.toContain('t0ken');
    expect(shown).not.toContain(GOSSIP_KEY);
    expect(redactConfig(config)).toMatchObject({ control: { token: '[redacted]' }, gossip: { keys: ['[redacted]'] }, node: 'orders-1' });
    expect(config.control?.token).toBe('t0ken');
  });
});

describe('the local example, examples/agent.local.yaml', () => {
  it('parses with zero warnings into two upstreams on static endpoints', async () => {
    const result = await loadConfigFile(localExample, { env: {}, hostname: 'test-host' });
    expect(result.ok && result.warnings).toEqual([]);
    const config = await load(localExample);
    expect(config.gossip).toBeUndefined();
    expect(config.control).toBeUndefined();
    expect(config.admin.listen.text).toBe('127.0.0.1:9901');
    expect(config.proxy?.listen.text).toBe('127.0.0.1:15001');
    expect(config.upstreams.map((u) => [u.name, u.protocol, u.endpoints.map((e) => e.port)])).toEqual([
      ['catalog', 'http', [18081, 18082, 18083]],
      ['payments', 'grpc', [18091, 18092]],
    ]);
  });
});
