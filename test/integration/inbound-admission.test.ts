// An inbound service sheds what its local application cannot take: with
// services[].limits.maxConcurrent: 2 and a slow application, the calls beyond two get 503
// MESHLET_OVERLOADED at once and are counted, and the application never sees them.
import { Agent as UndiciAgent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { http1Stats, metricsText, sampleValue, tally } from './http-support.ts';

let app: SampleUpstream;
let agent: RunningAgent;
const dispatcher = new UndiciAgent({ connections: 10 });

beforeAll(async () => {
  app = await startUpstream({ kind: 'http1', id: 'orders-app' });
  agent = await startAgent({
    node: 'inbound-test',
    admin: { listen: '127.0.0.1:0' },
    services: [{ name: 'orders', protocol: 'http', target: app.address, listen: '127.0.0.1:0', limits: { maxConcurrent: 2 } }],
  });
});

afterAll(async () => {
  await dispatcher.close();
  await agent?.stop();
  await app?.stop();
});

describe('an inbound service at its concurrency limit', () => {
  it('answers the calls beyond it with 503 MESHLET_OVERLOADED at once, and the application sees only what it admitted', async () => {
    const before = (await http1Stats(app.address)).requests;
    const started = performance.now();
    const outcomes = await Promise.all(Array.from({ length: 6 }, async () => {
      const res = await request(`http://${agent.listeners['service:orders']}/slow`, { dispatcher, headers: { 'x-delay-ms': '500' } });
      await res.body.dump();
      return { status: `${res.statusCode} ${res.headers['x-meshlet-error'] ?? ''}`.trim(), ms: performance.now() - started };
    }));

    expect(tally(outcomes.map((o) => o.status))).toEqual({ 200: 2, '503 MESHLET_OVERLOADED': 4 });
    // Shed without waiting for the application.
    for (const o of outcomes.filter((o) => o.status !== '200')) expect(o.ms).toBeLessThan(400);
    expect((await http1Stats(app.address)).requests - before).toBe(2);
    const metrics = await metricsText(agent);
    expect(sampleValue(metrics, 'meshlet_requests_refused_total', { listener: 'service:orders', reason: 'concurrency_limit' })).toBe(4);
  });
});
