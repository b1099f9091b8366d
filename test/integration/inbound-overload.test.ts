// An inbound service in front of a local application that serves 8 calls at once in 20 ms each
// (400 calls/s) and queues the rest: offered twice that, the adaptive concurrency limit sheds
// the excess at once with 503 and retry-after, and the calls it admits keep a p99 within 2× of
// the unloaded p99 measured in the same test (without a limit they would queue without bound).
// A reload that keeps the target keeps the application's connections and applies a rate limit.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Agent as UndiciAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { adminJson, http1Stats, metricsText, sampleValue, tally } from './http-support.ts';

const SERVICE_MS = 20;
const CAPACITY = 8;

/**
 * The local application, in a process of its own so the load this test makes does not slow its
 * timers: serves CAPACITY requests at once, SERVICE_MS each, and queues the rest in order, as a
 * thread pool does. GET /_stats answers its request count and the connections requests came
 * on (the stats requests' own left out), in http1Stats' shape.
 */
const APPLICATION = `
const http = require('node:http');
const waiting = [];
const sockets = new WeakSet();
let busy = 0, requests = 0, connections = 0;
const pump = () => {
  while (busy < ${CAPACITY} && waiting.length > 0) {
    const res = waiting.shift();
    busy++;
    setTimeout(() => { busy--; res.end('ok'); pump(); }, ${SERVICE_MS});
  }
};
const server = http.createServer((req, res) => {
  if (req.url === '/_stats') return res.end(JSON.stringify({ instance: 'app', requests, aborted: 0, connections }));
  requests++;
  if (!sockets.has(req.socket)) {
    sockets.add(req.socket);
    connections++;
  }
  waiting.push(res);
  pump();
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

async function startApplication(): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(process.execPath, ['-e', APPLICATION], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  return { child, address: `127.0.0.1:${line.split(' ')[1]}` };
}

async function connectionsOf(address: string): Promise<number> {
  return ((await http1Stats(address)) as unknown as { connections: number }).connections;
}

interface Answer {
  readonly status: string;
  readonly ms: number;
  readonly retryAfter: string | undefined;
  /** When it was sent, from the start of its run. */
  readonly at: number;
}

const dispatcher = new UndiciAgent({ connections: 256, keepAliveTimeout: 30_000 });

async function call(address: string, started: number): Promise<Answer> {
  const sent = performance.now();
  const res = await request(`http://${address}/orders`, { dispatcher });
  await res.body.dump();
  const retryAfter = res.headers['retry-after'];
  return {
    status: `${res.statusCode} ${res.headers['x-meshlet-error'] ?? ''}`.trim(),
    ms: performance.now() - sent,
    retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
    at: sent - started,
  };
}

/** Open loop: `perTick` calls every `tickMs` for `durationMs`, whatever came back; bounded in count by the duration. */
async function offer(address: string, perTick: number, tickMs: number, durationMs: number): Promise<Answer[]> {
  const started = performance.now();
  const pending: Promise<Answer>[] = [];
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() - started >= durationMs) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (let i = 0; i < perTick; i++) pending.push(call(address, started));
    }, tickMs);
  });
  return Promise.all(pending);
}

function p99(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

interface AccessLine {
  readonly status: number;
  readonly error?: string;
  readonly durationMs: number;
  readonly direction: string;
  /** pino's wall-clock ms. */
  readonly time: number;
}

/** The agent's access-log lines of the service from `from` (a wall-clock ms) on: its own view of each call's time. */
function accessSince(from: number): AccessLine[] {
  return (agent.logs() as unknown as (AccessLine & { log?: string; upstream?: string })[]).filter((line) => line.log === 'access' && line.upstream === 'inbound:orders' && line.time >= from);
}

let app: { child: ChildProcess; address: string };
let agent: RunningAgent;
let address: string;

function config(limits: object, timeout?: string): object {
  return {
    node: 'inbound-overload',
    admin: { listen: '127.0.0.1:0' },
    log: { access: true },
    services: [{ name: 'orders', protocol: 'http', target: app.address, listen: '127.0.0.1:0', ...(timeout ? { timeout } : {}), limits }],
  };
}

// minLimit, where the minimum RTT is measured, is what the application serves at once.
const ADAPTIVE = { adaptive: { minLimit: CAPACITY, maxLimit: 64, initialLimit: CAPACITY, sampleWindow: '100ms' } };

beforeAll(async () => {
  app = await startApplication();
  agent = await startAgent(config(ADAPTIVE));
  address = agent.listeners['service:orders']!;
});

afterAll(async () => {
  await dispatcher.close();
  await agent?.stop();
  app?.child.kill();
});

describe('an inbound service with an adaptive concurrency limit, offered twice what its application can serve', () => {
  it('sheds the excess within 5 ms with 503 and retry-after, and keeps the admitted calls within 2x of the unloaded p99', async () => {
    // Unloaded: one call every 25 ms, rarely two at once, never queued by the application.
    const unloadedFrom = Date.now();
    const unloaded = await offer(address, 1, 25, 2500);
    expect(tally(unloaded.map((a) => a.status))).toEqual({ 200: unloaded.length });
    const unloadedP99 = p99(accessSince(unloadedFrom).map((line) => line.durationMs));

    // 800 calls/s against 400/s of capacity; the first second lets the limit settle.
    const overloadFrom = Date.now();
    const overloaded = await offer(address, 4, 5, 4000);
    const counts = tally(overloaded.map((a) => a.status));
    expect(Object.keys(counts).sort()).toEqual(['200', '503 MESHLET_OVERLOADED']);
    for (const a of overloaded.filter((a) => a.status !== '200')) expect(a.retryAfter).toBe('1');
    const settled = accessSince(overloadFrom + 1000);
    const admitted = settled.filter((line) => line.status === 200);
    const shed = settled.filter((line) => line.error === 'MESHLET_OVERLOADED');
    const shedP99 = p99(shed.map((line) => line.durationMs));
    const admittedP99 = p99(admitted.map((line) => line.durationMs));
    const clientAdmitted = p99(overloaded.filter((a) => a.at >= 1000 && a.status === '200').map((a) => a.ms));
    const clientShed = p99(overloaded.filter((a) => a.at >= 1000 && a.status !== '200').map((a) => a.ms));
    console.log(
      `inbound overload (agent's access log): unloaded p99 ${unloadedP99.toFixed(1)} ms over ${unloaded.length} calls; ` +
        `offered ${overloaded.length} calls in 4 s: ${counts['200']} admitted, ${counts['503 MESHLET_OVERLOADED']} shed; after the first second ` +
        `admitted p99 ${admittedP99.toFixed(1)} ms (${admitted.length}), shed p99 ${shedP99.toFixed(2)} ms (${shed.length}); ` +
        `as this loaded client saw them: admitted p99 ${clientAdmitted.toFixed(1)} ms, shed p99 ${clientShed.toFixed(1)} ms`,
    );
    expect(shed.length).toBeGreaterThan(settled.length / 5);
    expect(admitted.length).toBeGreaterThan(settled.length / 5);
    expect(settled.every((line) => line.direction === 'inbound')).toBe(true);
    expect(shedP99).toBeLessThan(5);
    expect(admittedP99).toBeLessThan(2 * unloadedP99);

    const metrics = await metricsText(agent);
    expect(sampleValue(metrics, 'meshlet_requests_refused_total', { listener: 'service:orders', reason: 'concurrency_limit' })).toBe(counts['503 MESHLET_OVERLOADED']);
    const limit = sampleValue(metrics, 'meshlet_concurrency_limit', { service: 'orders' });
    expect(limit).toBeGreaterThanOrEqual(CAPACITY);
    expect(limit).toBeLessThan(3 * CAPACITY);
    const listed = await adminJson<{ name: string }[]>(agent, '/api/v1/upstreams');
    expect(listed.find((u) => u.name === 'inbound:orders')).toMatchObject({
      direction: 'inbound', target: app.address, admission: { concurrencyLimit: limit, adaptive: { minRttMs: expect.any(Number) } },
    });
  });

  it('keeps the application connections across a reload that keeps its target, and applies the new rate limit with 429 and retry-after', async () => {
    // As many at once as the rate limit will admit below, so the agent holds that many connections.
    const warm = await Promise.all(Array.from({ length: 5 }, () => call(address, performance.now())));
    expect(tally(warm.map((a) => a.status))).toEqual({ 200: 5 });
    const connections = await connectionsOf(app.address);

    const outcome = await agent.reload(config({ ...ADAPTIVE, rateLimit: { requestsPerSecond: 5, burst: 5 } }, '5s'));
    expect(outcome.applied).toBe(true);
    const burst = await Promise.all(Array.from({ length: 20 }, () => call(address, performance.now())));
    expect(tally(burst.map((a) => a.status))).toEqual({ 200: 5, '429 MESHLET_RATE_LIMITED': 15 });
    for (const a of burst.filter((a) => a.status !== '200')) expect(a.retryAfter).toBe('1');
    expect(await connectionsOf(app.address)).toBe(connections);
    expect(sampleValue(await metricsText(agent), 'meshlet_rate_limited_total', { upstream: 'inbound:orders' })).toBe(15);
  });
});
