// A reload is prepared whole before any of it is put in force: one whose picker cannot be
// built changes nothing and is counted as rejected; one that changes an upstream's policy
// keeps that upstream's connections (the upstream side counts its accepts) and loses no request.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { adminJson, h2Request, h2Session, metricsText, sampleValue } from './http-support.ts';
import { countingH2Upstream, countingHttp1Upstream, type CountingUpstream } from './limits-support.ts';

interface UpstreamView {
  name: string;
  algorithm: string;
  timeoutMs: number;
  endpoints: Array<{ address: string }>;
}

const upstreamNamed = async (agent: RunningAgent, name: string): Promise<UpstreamView> =>
  (await adminJson<UpstreamView[]>(agent, '/api/v1/upstreams')).find((u) => u.name === name)!;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a reload whose new picker cannot be built', () => {
  let upstream: CountingUpstream;
  let agent: RunningAgent;

  const config = (ordersPolicy: object, catalogTimeout: string) => ({
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      { name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address], policy: { timeout: catalogTimeout } },
      // Valid as config; only with its endpoints in hand can a picker tell it has too few slots.
      { name: 'orders', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address, '127.0.0.1:1', '127.0.0.1:2'], policy: ordersPolicy },
    ],
  });

  beforeAll(async () => {
    upstream = await countingHttp1Upstream();
    agent = await startAgent(config({ lb: { algorithm: 'round_robin' } }, '5s'));
  });

  afterAll(async () => {
    await agent?.stop();
    await upstream?.close();
  });

  it('keeps the old config serving, says why, and counts a rejection', async () => {
    const rejectedBefore = sampleValue(await metricsText(agent), 'meshlet_config_reloads_total', { result: 'rejected' });
    const outcome = await agent.reload(config({ lb: { algorithm: 'maglev', tableSize: 2 } }, '7s'));
    expect(outcome.applied).toBe(false);
    expect(outcome.log.issues).toEqual([{ path: '', message: expect.stringContaining('upstream "orders": maglev tableSize 2 has fewer slots than the 3 endpoints') }]);
    const text = await metricsText(agent);
    expect(sampleValue(text, 'meshlet_config_reloads_total', { result: 'rejected' })).toBe(rejectedBefore + 1);
    expect(sampleValue(text, 'meshlet_config_reloads_total', { result: 'applied' })).toBe(0);

    // Nothing of it applied: not the other upstream's new timeout either.
    expect((await upstreamNamed(agent, 'catalog')).timeoutMs).toBe(5000);
    expect((await upstreamNamed(agent, 'orders')).algorithm).toBe('round_robin');
    const pool = new Pool(`http://${agent.listeners['upstream:catalog']!}`);
    try {
      const res = await pool.request({ path: '/', method: 'GET' });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    } finally {
      await pool.close();
    }
  });
});

describe('a policy change by reload under load', () => {
  const CONCURRENCY = 8;
  let h1: CountingUpstream;
  let h2: CountingUpstream;
  let agent: RunningAgent;

  const config = (algorithm: string, connectTimeout: string, timeout: string) => ({
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      { name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [h1.address], policy: { lb: { algorithm }, connectTimeout, timeout } },
      { name: 'pricing', protocol: 'http2', listen: '127.0.0.1:0', endpoints: [h2.address], policy: { lb: { algorithm }, connectTimeout, timeout } },
    ],
  });

  beforeAll(async () => {
    h1 = await countingHttp1Upstream();
    h2 = await countingH2Upstream((stream) => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    agent = await startAgent(config('round_robin', '1s', '5s'));
  });

  afterAll(async () => {
    await agent?.stop();
    await h1?.close();
    await h2?.close();
  });

  it('keeps the upstreams connections (no new accepts) and loses no request', async () => {
    const pool = new Pool(`http://${agent.listeners['upstream:catalog']!}`, { connections: CONCURRENCY });
    const session = h2Session(agent.listeners['upstream:pricing']!);
    const failures: string[] = [];
    let sent = 0;
    let stop = false;
    const http1Client = async (): Promise<void> => {
      for (let i = 0; i < 2000 && !stop; i++) {
        sent++;
        try {
          const res = await pool.request({ path: `/load/${i}`, method: 'GET' });
          await res.body.dump();
          if (res.statusCode !== 200) failures.push(`h1 status ${res.statusCode} ${String(res.headers['x-meshlet-error'] ?? '')}`);
        } catch (error) {
          failures.push(`h1 ${(error as Error).message}`);
        }
      }
    };
    const h2Client = async (): Promise<void> => {
      for (let i = 0; i < 2000 && !stop; i++) {
        sent++;
        try {
          const res = await h2Request(session, { ':method': 'GET', ':path': `/load/${i}` });
          if (res.status !== 200) failures.push(`h2 status ${res.status}`);
        } catch (error) {
          failures.push(`h2 ${(error as Error).message}`);
        }
      }
    };
    const load = Promise.all([...Array.from({ length: CONCURRENCY }, http1Client), ...Array.from({ length: CONCURRENCY }, h2Client)]);
    try {
      for (const next of [config('least_request', '2s', '6s'), config('peak_ewma', '500ms', '4s'), config('random', '3s', '5s')]) {
        await pause(300);
        expect((await agent.reload(next)).applied).toBe(true);
      }
      await pause(300);
    } finally {
      stop = true;
      await load;
      session.close();
      await pool.close();
    }

    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(200);
    expect((await upstreamNamed(agent, 'catalog')).algorithm).toBe('random');
    // Every connection the upstreams ever accepted is still open: no reload closed one. About
    // one per request in flight (undici may open one more while it hands a finished one back);
    // one h2c session throughout.
    expect(h1.openConnections).toBe(h1.connections);
    expect(h1.connections).toBeLessThanOrEqual(2 * CONCURRENCY);
    expect(h2.openConnections).toBe(1);
    expect(h2.connections).toBe(1);
  });
});
