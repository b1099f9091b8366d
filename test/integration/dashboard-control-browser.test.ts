// The control plane's mesh dashboard end to end in headless Chromium (Debian's, driven by
// playwright-core): a real `meshlet control`, two real agents connected to it, each with an
// upstream of two real instances and steady traffic through it. The page on the control
// plane's admin listener shows both agents; then one instance behind orders-1 starts answering
// 500s and the page shows that agent's breaker for it open, with the reason the agent recorded,
// first on the page, while orders-2 stays closed. The screenshot is kept under test-results/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/cli/demo/repo-root.ts';
import type { NodeStats } from '../../src/observability/node-stats.ts';
import { AGENT_TOKEN, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { countingHttp1Upstream, type CountingUpstream } from './limits-support.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { startSteadyLoad, type SteadyLoad } from '../helpers/steady-load.ts';

const NODES = ['orders-1', 'orders-2'] as const;
const artifacts = join(repoRoot, 'test-results');
const dispatcher = new Agent({ connections: 4 });
/** The one instance that is told to fail: orders-1's second. */
let failing = false;
let control: RunningControl;
let instances: CountingUpstream[];
const agents: RunningAgent[] = [];
let browser: Browser;
let load: SteadyLoad | undefined;

beforeAll(async () => {
  control = await startControl();
  instances = await Promise.all([0, 1, 2, 3].map((i) => countingHttp1Upstream((_req, res) => {
    res.statusCode = i === 1 && failing ? 500 : 200;
    res.end(res.statusCode === 200 ? 'ok' : 'failing');
  })));
  for (const [n, node] of NODES.entries()) {
    agents.push(await startAgent({
      node,
      admin: { listen: '127.0.0.1:0' },
      control: { address: control.address, token: AGENT_TOKEN, reportInterval: '1s' },
      upstreams: [{
        name: 'payments',
        protocol: 'http',
        listen: '127.0.0.1:0',
        endpoints: [instances[2 * n]!.address, instances[2 * n + 1]!.address],
        // The endpoint's breaker opens on its own failures; the upstream's, at 60 %, stays closed while one instance works.
        policy: { circuitBreaker: { errorThresholdPercentage: 60, volumeThreshold: 5, window: '10s', resetTimeout: '10m' }, retry: { attempts: 2, on: ['5xx'] } },
      }],
    }));
  }
  load = startSteadyLoad(agents.map((agent) => `http://${agent.listeners['upstream:payments']}/`), dispatcher);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await load?.stop();
  await browser?.close();
  await dispatcher.close();
  for (const agent of agents) await agent.stop();
  await control?.stop('SIGTERM', true);
  await Promise.all((instances ?? []).map((instance) => instance.close()));
});

describe('the control plane\'s mesh dashboard with real agents, in headless Chromium', () => {
  it('shows both agents, then the failing instance\'s breaker open on its agent with its reason, first on the page', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://${control.admin}/dashboard`);
    const article = (node: string) => page.locator(`article.upstream[data-node="${node}"][data-upstream="payments"]`);
    const broken = instances[1]!.address;
    const endpoint = article('orders-1').locator(`[data-endpoint="${broken}"]`);
    // Both agents' reports reach the page, breakers closed while every instance answers.
    await expect.poll(() => page.locator('article.upstream').count(), { timeout: 20_000 }).toBe(2);
    await expect.poll(() => endpoint.getAttribute('data-state'), { timeout: 20_000 }).toBe('closed');
    expect(await article('orders-2').getAttribute('data-state')).toBe('closed');
    expect(await page.locator('#source').textContent()).toContain('2 agents');

    failing = true;
    const started = performance.now();
    await expect.poll(() => endpoint.getAttribute('data-state'), { timeout: 20_000, interval: 100 }).toBe('open');
    const shownAtMs = Date.now();
    const seconds = (performance.now() - started) / 1000;
    // When the agent opened it, by its own clock (the same host's): the rest is the way to the page.
    const stats = (await (await request(`http://${agents[0]!.admin}/api/v1/stats`, { dispatcher })).body.json()) as NodeStats;
    const openedAtMs = stats.upstreams[0]!.endpoints.find((e) => e.address === broken)!.breaker?.sinceMs ?? Number.NaN;
    const propagation = (shownAtMs - openedAtMs) / 1000;
    console.log(`control plane's dashboard: breaker shown open ${seconds.toFixed(1)} s after the instance started failing, ${propagation.toFixed(2)} s after the agent opened it (100 ms polls of the page)`);
    expect(seconds).toBeLessThan(15);
    expect(propagation).toBeLessThan(5);

    const reason = article('orders-1').locator(`[data-reason-for="${broken}"]`);
    expect(await reason.textContent()).toMatch(/^opened: \d+ of \d+ calls failed in the last 10s \([\d.]+ % ≥ 60 %, at least 5 calls\), last HTTP 500 from 127\.0\.0\.1:\d+/);
    expect(await page.locator('article.upstream').first().getAttribute('data-node')).toBe('orders-1');
    expect(await article('orders-2').getAttribute('data-state')).toBe('closed');
    await expect.poll(() => page.locator('#summary').textContent(), { timeout: 5000 }).toBe('1 open breaker');
    // The breaker event from the control plane's WatchMesh feed is listed with the agent's name.
    const listed = page.locator('#decisions li[data-kind="breaker_opened"]');
    await expect.poll(() => listed.count(), { timeout: 5000 }).toBeGreaterThan(0);
    expect(await listed.first().locator('.where').textContent()).toBe(`orders-1 payments ${broken}`);

    await page.waitForTimeout(2000);
    mkdirSync(artifacts, { recursive: true });
    const shot = join(artifacts, 'dashboard-mesh-control.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    expect(errors).toEqual([]);
  }, 90_000);
});
