// The dashboard aggregated over agents, as the control plane will serve it, in headless
// Chromium: a listener with a route hook mounts MeshDashboard's routes (the page,
// /api/v1/mesh/stats and /api/v1/mesh/events), fed with AgentReports and MeshEvents.
// Every row is labelled by its node, the broken node's breaker sorts first with its reason,
// and a breaker opening on another agent shows on the page as soon as its event arrives.
import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { MeshDashboard } from '../../src/dashboard/mesh-dashboard.ts';
import type { AgentReport, BreakerState, MeshEvent } from '../../src/control/control-proto.ts';
import { launchChromium } from '../helpers/chromium.ts';

const OPEN_REASON = 'opened: 9 of 10 calls failed in the last 10s (90 % ≥ 50 %, at least 5 calls), last HTTP 503 from 10.0.0.2:8080; half-open in 30s';

function report(breakerState: BreakerState, reason: string): AgentReport {
  const endpoint = (address: string, errorPercent: number) => ({ upstream: 'payments', address, health: 'healthy', ejected: false, ejectionReason: '', requestsPerSecond: 10, errorPercent, p50Ms: 2, p99Ms: 30, node: '', unreachable: false, unreachableReason: '' });
  return {
    atMs: 1,
    breakers: [
      { upstream: 'payments', endpoint: '', state: 'BREAKER_STATE_CLOSED', reason: '', sinceMs: 0, node: '' },
      { upstream: 'payments', endpoint: '10.0.0.1:8080', state: 'BREAKER_STATE_CLOSED', reason: '', sinceMs: 0, node: '' },
      { upstream: 'payments', endpoint: '10.0.0.2:8080', state: breakerState, reason, sinceMs: breakerState === 'BREAKER_STATE_OPEN' ? 1 : 0, node: '' },
    ],
    endpoints: [endpoint('10.0.0.1:8080', 0), endpoint('10.0.0.2:8080', breakerState === 'BREAKER_STATE_OPEN' ? 90 : 0)],
    upstreams: [{ name: 'payments', requestsPerSecond: 20, errorPercent: breakerState === 'BREAKER_STATE_OPEN' ? 45 : 0, p50Ms: 2, p99Ms: 30, retries: 3, fallbacks: 0, ejections: 0 }],
  };
}

const reports = new Map<string, AgentReport>([
  ['orders-1', report('BREAKER_STATE_CLOSED', '')],
  ['orders-2', report('BREAKER_STATE_OPEN', OPEN_REASON)],
]);
const dashboard = new MeshDashboard({ clock: systemClock, wallNow: Date.now, agents: () => [...reports].map(([node, report]) => ({ node, report })) });
let server: Server;
let address: string;
let browser: Browser;

beforeAll(async () => {
  // As the control plane's admin listener: exact paths added through its route hook.
  const routes = new Map(dashboard.routes());
  server = createServer((req, res) => {
    const route = routes.get((req.url ?? '/').split('?')[0]!);
    if (route) return route(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  dashboard.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe('mesh dashboard in headless Chromium', () => {
  it('labels every row by node, puts the broken agent first, and shows a breaker that opens on another agent', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://${address}/dashboard`);
    const rows = page.locator('article.upstream');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    const labels = () => Promise.all([0, 1].map(async (i) => `${await rows.nth(i).getAttribute('data-node')} ${await rows.nth(i).getAttribute('data-state')}`));
    expect(await labels()).toEqual(['orders-2 open', 'orders-1 closed']);
    expect(await page.locator('article[data-node="orders-2"] [data-reason-for="10.0.0.2:8080"]').textContent()).toBe(OPEN_REASON);
    expect(await page.locator('#source').textContent()).toContain('2 agents');

    // orders-1's breaker opens: the control plane hears the report and the event.
    const reason = OPEN_REASON.replace('9 of 10', '7 of 8');
    reports.set('orders-1', report('BREAKER_STATE_OPEN', reason));
    const event: MeshEvent = { atMs: 2, node: 'orders-1', kind: 'breaker', breaker: { upstream: 'payments', endpoint: '10.0.0.2:8080', state: 'BREAKER_STATE_OPEN', reason, sinceMs: 2, node: 'orders-1' } };
    dashboard.heard(event);
    const listed = page.locator('#decisions li[data-kind="breaker_opened"]');
    await expect.poll(() => listed.count(), { timeout: 5000 }).toBe(1);
    expect(await listed.locator('.where').textContent()).toBe('orders-1 payments 10.0.0.2:8080');
    await expect.poll(() => page.locator('article[data-node="orders-1"]').getAttribute('data-state'), { timeout: 5000 }).toBe('open');
    expect(await page.locator('#summary').textContent()).toBe('2 open breakers');
    expect(errors).toEqual([]);
  });
});
