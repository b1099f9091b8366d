// Degradation as a client of a real agent process sees it: with every instance down the
// fallback answers at once, a GET answered before the upstream died is served stale, and calls
// over the rate limit get 429 with retry-after.
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoClient, unary, type EchoClient } from '../helpers/grpc-client.ts';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { h2Request, h2Session, metricsText, sampleValue, unusedPort } from './http-support.ts';

let agent: RunningAgent;
let live: SampleUpstream;
let limitedUpstream: SampleUpstream;
let payments: EchoClient;
const dispatcher = new Agent({ connections: 8 });

beforeAll(async () => {
  const [down1, down2, downGrpc] = await Promise.all([unusedPort(), unusedPort(), unusedPort()]);
  [live, limitedUpstream] = await Promise.all([startUpstream({ kind: 'http1', id: 'stale-a' }), startUpstream({ kind: 'http1', id: 'limited-a' })]);
  agent = await startAgent({
    node: 'degrade-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      {
        name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [`127.0.0.1:${down1}`, `127.0.0.1:${down2}`],
        policy: { fallback: { status: 503, headers: { 'content-type': 'application/json' }, body: '{"degraded":true}' } },
      },
      {
        name: 'payments', protocol: 'grpc', listen: '127.0.0.1:0', endpoints: [`127.0.0.1:${downGrpc}`],
        policy: { fallback: { grpcStatus: 'UNAVAILABLE', message: 'payments is degraded' } },
      },
      { name: 'search', protocol: 'http', listen: '127.0.0.1:0', endpoints: [live.address], policy: { fallback: { staleIfError: { maxAge: '1m' } } } },
      // One token every 10 s: the test's calls all fall in the first second, however loaded the machine.
      { name: 'orders', protocol: 'http', listen: '127.0.0.1:0', endpoints: [limitedUpstream.address], policy: { rateLimit: { requestsPerSecond: 0.1, burst: 2 } } },
    ],
  });
  payments = echoClient(agent.listeners['upstream:payments']!);
});

afterAll(async () => {
  payments?.close();
  await dispatcher.close();
  await agent?.stop();
  await Promise.all([live?.stop(), limitedUpstream?.stop()]);
});

const url = (upstream: string, path: string) => `http://${agent.listeners[`upstream:${upstream}`]}${path}`;

describe('with every instance down', () => {
  it('answers the static fallback to every call, fast (p99 well under a generous bound)', async () => {
    const calls = 500;
    const latencies: number[] = [];
    const statuses: string[] = [];
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      const res = await request(url('catalog', `/items/${i}`), { dispatcher });
      const body = await res.body.text();
      latencies.push(performance.now() - started);
      statuses.push(`${res.statusCode} ${String(res.headers['x-meshlet-fallback'])} ${body}`);
    }
    expect(new Set(statuses)).toEqual(new Set(['503 static {"degraded":true}']));
    latencies.sort((a, b) => a - b);
    // The issue's target is a 5 ms p99 (the bench measures it); on two shared cores at a load of
    // 10 a run here gave 1.1 ms at p50 and 14 ms at p99, so the bounds leave room for worse.
    expect(latencies[calls / 2]).toBeLessThan(25);
    expect(latencies[Math.floor(calls * 0.99)]).toBeLessThan(250);
    const text = await metricsText(agent);
    expect(sampleValue(text, 'meshlet_fallbacks_total', { upstream: 'catalog', kind: 'static', cause: 'MESHLET_CONNECT_FAILED' })).toBe(calls);
  });

  it('answers an h2c client the same response', async () => {
    const session = h2Session(agent.listeners['upstream:catalog']!);
    try {
      const res = await h2Request(session, { ':method': 'GET', ':path': '/items' });
      expect([res.status, res.headers['x-meshlet-fallback'], res.headers['content-type'], res.body]).toEqual([503, 'static', 'application/json', '{"degraded":true}']);
    } finally {
      session.close();
    }
  });

  it('answers a gRPC call with the configured status and message, marked as a fallback', async () => {
    const error = await unary(payments, { message: 'x' }).then(() => undefined, (err: unknown) => err as grpc.ServiceError);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.details).toBe('payments is degraded');
    expect(error?.metadata.get('x-meshlet-fallback')).toEqual(['static']);
  });
});

describe('stale-if-error', () => {
  it('serves the last good answer to a GET after its upstream died, marked stale with an age', async () => {
    const first = await request(url('search', '/q?term=shoes'), { dispatcher });
    const fresh = await first.body.text();
    expect(first.statusCode).toBe(200);
    await live.stop();
    const res = await request(url('search', '/q?term=shoes'), { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-meshlet-fallback']).toBe('stale');
    expect(Number(res.headers['age'])).toBeGreaterThanOrEqual(0);
    expect(await res.body.text()).toBe(fresh);
    // Nothing was kept for another query: the agent's error, as without a fallback.
    const other = await request(url('search', '/q?term=hats'), { dispatcher });
    await other.body.text();
    expect([other.statusCode, other.headers['x-meshlet-error']]).toEqual([503, 'MESHLET_CONNECT_FAILED']);
  });
});

describe('the upstream rate limit', () => {
  it('admits the burst, then answers 429 with retry-after and counts it', async () => {
    const answers: [number, unknown, unknown][] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(url('orders', '/'), { dispatcher });
      await res.body.text();
      answers.push([res.statusCode, res.headers['x-meshlet-error'], res.headers['retry-after']]);
    }
    expect(answers.slice(0, 2)).toEqual([[200, undefined, undefined], [200, undefined, undefined]]);
    for (const [status, code, retryAfter] of answers.slice(2)) {
      expect([status, code]).toEqual([429, 'MESHLET_RATE_LIMITED']);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(10);
    }
    const text = await metricsText(agent);
    expect(sampleValue(text, 'meshlet_rate_limited_total', { upstream: 'orders' })).toBe(2);
  });
});
