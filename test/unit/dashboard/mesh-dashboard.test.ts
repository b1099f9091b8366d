import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { MeshDashboard } from '../../../src/dashboard/mesh-dashboard.ts';

const dashboard = new MeshDashboard({
  clock: new FakeClock(),
  wallNow: () => 1234,
  agents: () => [{ node: 'n1', report: { atMs: 1000, breakers: [], endpoints: [], upstreams: [{ name: 'pay', requestsPerSecond: 2, errorPercent: 0, p50Ms: 1, p99Ms: 3, retries: 0, fallbacks: 0, ejections: 0 }] } }, { node: 'n2', report: null }],
});
let server: Server;
let base: string;

beforeAll(async () => {
  const routes = new Map(dashboard.routes());
  server = createServer((req, res) => {
    const route = routes.get(req.url!.split('?')[0]!);
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  dashboard.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('MeshDashboard routes', () => {
  it('serve the page reading the mesh source, and every reported agent\'s stats', async () => {
    expect(dashboard.routes().map(([path]) => path)).toEqual(['/dashboard', '/dashboard/dashboard.css', '/dashboard/dashboard.js', '/api/v1/mesh/stats', '/api/v1/mesh/events']);
    const page = await request(`${base}/dashboard`);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(await page.body.text()).toContain('data-default-source="mesh"');
    const stats = await request(`${base}/api/v1/mesh/stats`);
    expect(await stats.body.json()).toMatchObject({ atMs: 1234, nodes: [{ node: 'n1', atMs: 1000, upstreams: [{ name: 'pay', requestsPerSecond: 2, breaker: null, endpoints: [] }] }] });
  });

  it('refuse anything but GET and HEAD', async () => {
    const res = await request(`${base}/api/v1/mesh/stats`, { method: 'POST', body: '{}' });
    expect([res.statusCode, res.headers.allow]).toEqual([405, 'GET, HEAD']);
    await res.body.dump();
  });
});
