import { describe, expect, it } from 'vitest';
import { startControlAdmin } from '../../../src/control/control-admin.ts';
import { ControlMetrics } from '../../../src/control/control-metrics.ts';
import { createLogger } from '../../../src/observability/logger.ts';

const metrics = new ControlMetrics({ agentsConnected: () => 3, agentsKnown: () => 4, watchers: () => 0, policyVersion: () => 7 });
const logger = createLogger({ level: 'silent', name: 'test' });

describe('control admin listener', () => {
  it('serves probes and metrics, mounts routes exactly or under a prefix, and keeps its own paths', async () => {
    let ready = true;
    const admin = await startControlAdmin({ host: '127.0.0.1', port: 0, metrics, logger, isReady: () => ready });
    try {
      admin.addRoute('/dashboard', (_req, res) => void res.end('page'));
      admin.addRoute('/api/v1/mesh/', (req, res) => void res.end(`mesh ${req.url}`));
      expect(() => admin.addRoute('/metrics', () => undefined)).toThrow(/admin listener's own/);
      const get = async (path: string) => {
        const res = await fetch(`http://${admin.address}${path}`);
        return [res.status, await res.text()] as const;
      };
      expect(await get('/dashboard')).toEqual([200, 'page']);
      expect(await get('/api/v1/mesh/breakers?x=1')).toEqual([200, 'mesh /api/v1/mesh/breakers?x=1']);
      expect((await get('/dashboard/x'))[0]).toBe(404);
      expect(await get('/healthz')).toEqual([200, 'ok']);
      ready = false;
      expect(await get('/readyz')).toEqual([503, 'not ready']);
      const [, text] = await get('/metrics');
      expect(text).toMatch(/^meshlet_control_agents_connected 3$/m);
      expect(text).toMatch(/^meshlet_control_policy_version 7$/m);
      expect((await fetch(`http://${admin.address}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await admin.close();
    }
  });
});
