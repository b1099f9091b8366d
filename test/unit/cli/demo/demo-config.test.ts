import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config/load.ts';
import { demoAgentConfig } from '../../../../src/cli/demo/demo-config.ts';
import { configText } from '../../../../src/cli/demo/agent-process.ts';

describe('the demo agent config', () => {
  it('is one the agent accepts, with the weights and algorithms the demo prints', () => {
    const yaml = configText(demoAgentConfig(
      [{ address: '127.0.0.1:8081' }, { address: '127.0.0.1:8082' }, { address: '127.0.0.1:8083' }],
      [{ address: '127.0.0.1:50051' }, { address: '127.0.0.1:50052' }],
    ));
    const result = parseConfig(yaml, { env: {}, hostname: 'test-host' });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const [catalog, payments] = result.config.upstreams;
    expect(catalog).toMatchObject({ name: 'catalog', protocol: 'http', policy: { lb: { algorithm: 'weighted_round_robin' } } });
    expect(catalog!.endpoints.map((e) => e.weight)).toEqual([1, 1, 2]);
    expect(payments).toMatchObject({ name: 'payments', protocol: 'grpc', policy: { lb: { algorithm: 'peak_ewma' } } });
    expect(result.config.admin.listen.port).toBe(0);
    expect(result.config.proxy?.listen.port).toBe(0);
  });
});
