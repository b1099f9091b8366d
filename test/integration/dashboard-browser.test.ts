// The dashboard in real headless Chromium (Debian's, driven by playwright-core): a real agent
// with an upstream of two real instances under a circuit breaker policy and steady traffic;
// one instance starts answering 500s, and the page shows its breaker open, with the reason
// the agent recorded, at the top of the page and in red, within a few seconds; another stops
// listening and shows as unreachable until it listens again. The screenshot is kept under
// test-results/.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/cli/demo/repo-root.ts';
import type { NodeStats } from '../../src/observability/node-stats.ts';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { startSteadyLoad, type SteadyLoad } from '../helpers/steady-load.ts';

/** What the test reads of the page's window (this process's types have no DOM). */
interface PageWindow {
  getComputedStyle(element: unknown): { color: string };
}

/** An instance that answers 200, or 500 once told to fail. */
interface Instance {
  readonly server: Server;
  readonly address: string;
  failing: boolean;
}

function startInstance(id: string, port = 0): Promise<Instance> {
  const server = createServer((req, res) => {
    req.resume();
    const status = instance.failing ? 500 : 200;
    res.writeHead(status, { 'content-type': 'text/plain', 'x-instance': id });
    res.end(status === 200 ? 'ok' : 'failing');
  });
  const instance: Instance = { server, address: '', failing: false };
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => {
      resolve(Object.assign(instance, { address: `127.0.0.1:${(server.address() as { port: number }).port}` }));
    }),
  );
}

const artifacts = join(repoRoot, 'test-results');
const dispatcher = new Agent({ connections: 4 });
let instances: Instance[];
let agent: RunningAgent;
let browser: Browser;
let page: Page;
let load: SteadyLoad | undefined;

beforeAll(async () => {
  instances = await Promise.all(['pay-a', 'pay-b', 'cat-a', 'inv-a', 'inv-b'].map((id) => startInstance(id)));
  const [a, b, c, d, e] = instances;
  agent = await startAgent({
    node: 'dashboard-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      {
        name: 'payments',
        protocol: 'http',
        listen: '127.0.0.1:0',
        endpoints: [a!.address, b!.address],
        // The endpoint's breaker opens on its own failures; the upstream's, at 60 %, stays closed while one instance works.
        policy: { circuitBreaker: { errorThresholdPercentage: 60, volumeThreshold: 5, window: '10s', resetTimeout: '10m' }, retry: { attempts: 2, on: ['5xx'] } },
      },
      { name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [c!.address], policy: { circuitBreaker: { resetTimeout: '10m' } } },
      // No breaker: an instance that stops listening shows as unreachable, not as an open breaker.
      { name: 'inventory', protocol: 'http', listen: '127.0.0.1:0', endpoints: [d!.address, e!.address] },
    ],
  });
  load = startSteadyLoad(['upstream:payments', 'upstream:catalog', 'upstream:inventory'].map((name) => `http://${agent.listeners[name]}/`), dispatcher);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 640 } });
}, 60_000);

afterAll(async () => {
  await load?.stop();
  await browser?.close();
  await dispatcher.close();
  await agent?.stop();
  await Promise.all((instances ?? []).map((i) => new Promise((resolve) => i.server.close(resolve))));
});

describe('dashboard in headless Chromium', () => {
  it('shows an instance that starts failing as an open breaker with its reason, first and in red, within a few seconds', async () => {
    const failing = instances[1]!;
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://${agent.admin}/dashboard`);
    const payments = page.locator('article[data-upstream="payments"]');
    const endpoint = payments.locator(`[data-endpoint="${failing.address}"]`);
    // Healthy and carrying traffic: both upstreams on one line each, breakers closed, a request rate shown.
    // Polled through locators, not a page-side predicate: the page's CSP forbids eval, and newer Chromium enforces it on Playwright's.
    await expect.poll(() => page.locator('article.upstream').count(), { timeout: 15_000 }).toBe(3);
    await expect.poll(() => page.locator('#live').textContent(), { timeout: 15_000 }).toBe('live');
    await expect.poll(() => endpoint.getAttribute('data-state'), { timeout: 15_000 }).toBe('closed');
    expect(await payments.locator('.endpoints').isHidden()).toBe(true);
    expect(await page.locator('#summary').textContent()).toBe('all 3 upstreams healthy');

    failing.failing = true;
    const started = performance.now();
    await expect.poll(() => endpoint.getAttribute('data-state'), { timeout: 15_000, interval: 100 }).toBe('open');
    const seconds = (performance.now() - started) / 1000;
    console.log(`breaker shown open on the page ${seconds.toFixed(1)} s after the instance started failing`);
    expect(seconds).toBeLessThan(10);

    // The reason the agent recorded, next to the endpoint; the broken upstream first, expanded and red.
    const reason = payments.locator(`[data-reason-for="${failing.address}"]`);
    expect(await reason.textContent()).toMatch(/^opened: \d+ of \d+ calls failed in the last 10s \([\d.]+ % ≥ 60 %, at least 5 calls\), last HTTP 500 from 127\.0\.0\.1:\d+/);
    // Polled: each refresh redraws the list, and a style read on the element it just replaced is empty.
    await expect.poll(() => reason.evaluate((el) => (globalThis as unknown as PageWindow).getComputedStyle(el).color), { timeout: 5000 }).toBe('rgb(255, 77, 79)');
    expect(await page.locator('article.upstream').first().getAttribute('data-upstream')).toBe('payments');
    expect(await payments.getAttribute('class')).toContain('sev-3');
    expect(await payments.locator('.endpoints').isVisible()).toBe(true);
    expect(await page.locator('#summary').textContent()).toBe('1 open breaker');
    // The decision stream's event is listed too, with the same reason.
    await expect.poll(() => page.locator('#decisions li[data-kind="breaker_opened"]').count(), { timeout: 5000 }).toBeGreaterThan(0);
    expect(await page.locator('#decisions li[data-kind="breaker_opened"] .why').first().textContent()).toBe(await reason.textContent());
    // What the page drew, as the agent's /api/v1/stats has it.
    const stats = (await (await request(`http://${agent.admin}/api/v1/stats`, { dispatcher })).body.json()) as NodeStats;
    const paymentsStats = stats.upstreams.find((u) => u.name === 'payments')!;
    expect(stats.node).toBe('dashboard-test');
    expect(paymentsStats.requestsPerSecond).toBeGreaterThan(0);
    expect(paymentsStats.retries).toBeGreaterThan(0);
    expect(paymentsStats.endpoints.find((e) => e.address === failing.address)!.breaker).toMatchObject({ state: 'open', reason: await reason.textContent() });
    // The healthy upstream stays on one line.
    expect(await page.locator('article[data-upstream="catalog"] .endpoints').isHidden()).toBe(true);

    // A few more polls, so the sparklines show the change.
    await page.waitForTimeout(3000);
    mkdirSync(artifacts, { recursive: true });
    const shot = join(artifacts, 'dashboard-breaker-open.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    expect(errors).toEqual([]);
  }, 60_000);

  it('shows an instance that stops listening as unreachable with its reason, and healthy again once it listens on its port', async () => {
    const stopped = instances[4]!;
    const port = Number(stopped.address.split(':')[1]);
    const inventory = page.locator('article[data-upstream="inventory"]');
    const endpoint = inventory.locator(`[data-endpoint="${stopped.address}"]`);
    await expect.poll(() => endpoint.getAttribute('data-state'), { timeout: 15_000 }).toBe('healthy');
    stopped.server.closeAllConnections();
    await new Promise((resolve) => stopped.server.close(resolve));

    await expect.poll(() => endpoint.getAttribute('data-state'), { timeout: 10_000, interval: 100 }).toBe('unreachable');
    expect(await inventory.locator(`[data-reason-for="${stopped.address}"]`).textContent()).toMatch(/^unreachable: its connection was refused; kept out of the balancer until a connect succeeds/);
    expect(await inventory.getAttribute('class')).toContain('sev-3');
    expect(await page.locator('#summary').textContent()).toContain('1 unreachable endpoint');
    await expect.poll(() => page.locator('#decisions li[data-kind="unreachable"]').count(), { timeout: 5000 }).toBeGreaterThan(0);

    instances[4] = await startInstance('inv-b', port);
    await expect.poll(() => endpoint.getAttribute('data-state'), { timeout: 10_000, interval: 100 }).toBe('healthy');
    await expect.poll(() => page.locator('#decisions li[data-kind="reachable"]').count(), { timeout: 5000 }).toBeGreaterThan(0);
    expect(await page.locator('#summary').textContent()).not.toContain('unreachable');
  }, 40_000);
});
