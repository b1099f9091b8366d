import { createServer } from 'node:net';
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLoopback, startAdminServer, type AdminServer, type AdminSource, type BreakerOverrideRequest, type GossipKeyAction, type GossipKeyChangeResult } from '../../../src/observability/admin-server.ts';
import { systemClock } from '../../../src/clock.ts';
import { DecisionLog } from '../../../src/observability/decisions.ts';
import { MAX_EVENT_READERS } from '../../../src/observability/decision-stream.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { MeshletMetrics } from '../../../src/observability/metrics.ts';
import { sampleValue, samplesOf } from './prometheus-text.ts';

class FakeSource implements AdminSource {
  live = true;
  ready = false;
  upstreamList: unknown[] = [{ name: 'payments', endpoints: 2 }];
  config: unknown = { node: 'orders-1', control: { token: '<redacted>' } };
  isLive(): boolean {
    return this.live;
  }
  isReady(): boolean {
    return this.ready;
  }
  upstreams(): unknown[] {
    return this.upstreamList;
  }
  effectiveConfig(): unknown {
    return this.config;
  }
  statsView: unknown = { node: 'orders-1', atMs: 1, windowMs: 10_000, upstreams: [] };
  stats(): unknown {
    return this.statsView;
  }
  breakerList: unknown[] = [{ upstream: 'payments', breaker: { state: 'closed' }, endpoints: [] }];
  forced: [string, string, BreakerOverrideRequest][] = [];
  breakers(): unknown[] {
    return this.breakerList;
  }
  forceBreaker(upstream: string, endpoint: string, state: BreakerOverrideRequest): 'forced' | 'no_upstream' | 'no_endpoint' | 'no_breaker' {
    if (upstream !== 'payments') return 'no_upstream';
    if (endpoint !== '10.0.0.7:8080') return 'no_endpoint';
    this.forced.push([upstream, endpoint, state]);
    return 'forced';
  }
  memberView: unknown = { self: { node: 'orders-1' }, members: [] };
  keyView: unknown = { keys: [{ fingerprint: 'ab12', primary: true }] };
  keyChanges: [GossipKeyAction, string][] = [];
  members(): unknown {
    return this.memberView;
  }
  gossipKeys(): unknown {
    return this.keyView;
  }
  changeGossipKey(action: GossipKeyAction, key: string): GossipKeyChangeResult {
    if (key === 'bad') return { ok: false, status: 400, error: 'gossip key: must be base64 of 32 bytes' };
    this.keyChanges.push([action, key]);
    return { ok: true, keys: this.keyView };
  }
}

const silent = createLogger({ level: 'silent', name: 'admin-test' });

let server: AdminServer;
let metrics: MeshletMetrics;
let source: FakeSource;
let client: Agent;
let decisions: DecisionLog;

beforeEach(async () => {
  metrics = new MeshletMetrics();
  source = new FakeSource();
  decisions = new DecisionLog(systemClock, Date.now);
  client = new Agent();
  server = await startAdminServer({ listen: { host: '127.0.0.1', port: 0 }, metrics, source, logger: silent, decisions, clock: systemClock });
});

afterEach(async () => {
  await server.close();
  await client.close();
});

async function get(path: string, method: 'GET' | 'POST' | 'HEAD' = 'GET') {
  const res = await request(`http://127.0.0.1:${server.address.port}${path}`, { method, dispatcher: client });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('admin server', () => {
  it('listens on the port the OS chose', () => {
    expect(server.address.host).toBe('127.0.0.1');
    expect(server.address.port).toBeGreaterThan(0);
  });

  it('answers /healthz by liveness', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok' });
    source.live = false;
    expect((await get('/healthz')).status).toBe(503);
  });

  it('answers /readyz 503 until ready, 200 while ready, 503 again while draining', async () => {
    expect(await get('/readyz')).toMatchObject({ status: 503, body: 'not ready' });
    source.ready = true;
    expect(await get('/readyz')).toMatchObject({ status: 200, body: 'ready' });
    source.ready = false;
    expect(await get('/readyz')).toMatchObject({ status: 503, body: 'not ready' });
  });

  it('serves recorded request metrics at /metrics in Prometheus text format', async () => {
    const ep = metrics.bindEndpoint('payments', '127.0.0.1:50051');
    ep.started();
    ep.finished('grpc', 200, 0.004, 14, false);
    ep.started();
    ep.finished('grpc', 200, 0.2, 0, false);
    metrics.configReload('applied');

    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(metrics.contentType);
    const labels = { upstream: 'payments', endpoint: '127.0.0.1:50051' };
    expect(sampleValue(res.body, 'meshlet_requests_total', { classification: 'success', ...labels, protocol: 'grpc', status_class: '2xx' })).toBe(2);
    expect(sampleValue(res.body, 'meshlet_grpc_responses_total', { ...labels, grpc_status: 'UNAVAILABLE' })).toBe(1);
    expect(sampleValue(res.body, 'meshlet_request_duration_seconds_bucket', { ...labels, protocol: 'grpc', le: '0.005' })).toBe(1);
    expect(sampleValue(res.body, 'meshlet_request_duration_seconds_count', { ...labels, protocol: 'grpc' })).toBe(2);
    expect(sampleValue(res.body, 'meshlet_config_reloads_total', { result: 'applied' })).toBe(1);

    metrics.removeUpstream('payments');
    const after = await get('/metrics');
    expect(samplesOf(after.body, 'meshlet_requests_total', { upstream: 'payments' })).toEqual([]);
    expect(samplesOf(after.body, 'meshlet_request_duration_seconds_count', { upstream: 'payments' })).toEqual([]);
  });

  it('serves the traffic stats at /api/v1/stats and mounted pages with their headers', async () => {
    const stats = await get('/api/v1/stats');
    expect(stats.status).toBe(200);
    expect(JSON.parse(stats.body)).toEqual({ node: 'orders-1', atMs: 1, windowMs: 10_000, upstreams: [] });
    const own = await startAdminServer({
      listen: { host: '127.0.0.1', port: 0 }, metrics, source, logger: silent, decisions, clock: systemClock,
      pages: [{ path: '/page', contentType: 'text/html; charset=utf-8', body: '<p>hé</p>', headers: { 'x-content-type-options': 'nosniff' } }],
    });
    try {
      const res = await request(`http://127.0.0.1:${own.address.port}/page?source=mesh`, { dispatcher: client });
      expect([res.statusCode, res.headers['content-type'], res.headers['x-content-type-options'], res.headers['content-length'], await res.body.text()]).toEqual([200, 'text/html; charset=utf-8', 'nosniff', '10', '<p>hé</p>']);
    } finally {
      await own.close();
    }
  });

  it('serves upstreams and config as pretty-printed JSON', async () => {
    const upstreams = await get('/api/v1/upstreams');
    expect(upstreams.status).toBe(200);
    expect(upstreams.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(upstreams.body)).toEqual([{ name: 'payments', endpoints: 2 }]);
    expect(upstreams.body).toContain('\n  ');

    const config = await get('/api/v1/config?pretty');
    expect(config.status).toBe(200);
    expect(JSON.parse(config.body)).toEqual({ node: 'orders-1', control: { token: '<redacted>' } });
  });

  it('answers unknown paths with 404 JSON', async () => {
    const res = await get('/nope');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual({ error: 'not found', path: '/nope' });
  });

  it('refuses methods other than GET and HEAD with 405', async () => {
    const res = await get('/readyz', 'POST');
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD');
    const head = await get('/healthz', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('answers 500 JSON when the source throws, and keeps serving', async () => {
    source.upstreams = () => {
      throw new Error('boom');
    };
    const res = await get('/api/v1/upstreams');
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'internal error' });
    expect((await get('/healthz')).status).toBe(200);
  });

  it('closes while a client holds an idle keep-alive connection, then refuses connections', async () => {
    const own = await startAdminServer({ listen: { host: '127.0.0.1', port: 0 }, metrics, source, logger: silent, decisions, clock: systemClock });
    const url = `http://127.0.0.1:${own.address.port}/healthz`;
    const first = await request(url, { dispatcher: client });
    await first.body.text();

    await own.close();

    const fresh = new Agent();
    await expect(request(url, { dispatcher: fresh })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await fresh.close();
  });

  it('rejects when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    try {
      await expect(
        startAdminServer({ listen: { host: '127.0.0.1', port: address.port }, metrics, source, logger: silent, decisions, clock: systemClock }),
      ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe('GET /api/v1/events', () => {
  /** Reads server-sent events until `count` have arrived; the stream is left open behind it. */
  async function readEvents(headers: Record<string, string> = {}) {
    const res = await request(`http://127.0.0.1:${server.address.port}/api/v1/events`, { dispatcher: client, headers });
    const events: { id: string; event: string; data: { seq: number; kind: string; reason: string } }[] = [];
    let text = '';
    const iterator = res.body[Symbol.asyncIterator]();
    const next = async (count: number) => {
      while (events.length < count) {
        const { value, done } = await iterator.next();
        if (done) break;
        text += (value as Buffer).toString();
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          if (fields.data !== undefined) events.push({ id: fields.id ?? '', event: fields.event ?? '', data: JSON.parse(fields.data) });
        }
      }
      return events;
    };
    return { res, next, close: () => res.body.destroy() };
  }

  it('replays the recent decisions, then streams new ones as they are taken', async () => {
    decisions.record({ kind: 'breaker_opened', scope: 'payments', endpoint: '127.0.0.1:1', reason: 'opened: 12 of 20 calls failed' });
    const stream = await readEvents();
    expect(stream.res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect((await stream.next(1))[0]).toMatchObject({ id: '1', event: 'breaker_opened', data: { seq: 1, reason: 'opened: 12 of 20 calls failed' } });
    decisions.record({ kind: 'breaker_closed', scope: 'payments', endpoint: '127.0.0.1:1', reason: 'closed: probe succeeded' });
    const [, live] = await stream.next(2);
    expect(live).toMatchObject({ id: '2', event: 'breaker_closed' });
    stream.close();
  });

  it('skips what the reader saw, by Last-Event-ID', async () => {
    for (let i = 0; i < 3; i++) decisions.record({ kind: 'shed', scope: 'service:orders', reason: `shed ${i}` });
    const stream = await readEvents({ 'last-event-id': '2' });
    expect((await stream.next(1)).map((e) => e.id)).toEqual(['3']);
    stream.close();
  });

  it(`refuses a reader past ${MAX_EVENT_READERS} with 503, and takes one again once a reader leaves`, async () => {
    const open = await Promise.all(Array.from({ length: MAX_EVENT_READERS }, () => readEvents()));
    const refused = await get('/api/v1/events');
    expect(refused.status).toBe(503);
    open[0]!.close();
    await expect.poll(async () => (await request(`http://127.0.0.1:${server.address.port}/api/v1/events`, { method: 'HEAD', dispatcher: client })).statusCode).toBe(200);
    for (const stream of open) stream.close();
  });
});

describe('admin server breakers', () => {
  async function post(path: string, body: string) {
    const res = await request(`http://127.0.0.1:${server.address.port}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: client });
    return { status: res.statusCode, body: JSON.parse(await res.body.text()) as Record<string, unknown> };
  }

  it('lists the breakers at GET /api/v1/breakers', async () => {
    const res = await get('/api/v1/breakers');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual(source.breakerList);
  });

  it('forces an endpoint breaker with POST /api/v1/breakers/<upstream>/<endpoint>, the address percent-encoded or not', async () => {
    expect(await post('/api/v1/breakers/payments/10.0.0.7:8080', '{"state":"open"}')).toEqual({ status: 200, body: { upstream: 'payments', endpoint: '10.0.0.7:8080', state: 'open' } });
    expect((await post('/api/v1/breakers/payments/10.0.0.7%3A8080', '{"state":"auto"}')).status).toBe(200);
    expect(source.forced).toEqual([['payments', '10.0.0.7:8080', 'open'], ['payments', '10.0.0.7:8080', 'auto']]);
  });

  it('refuses a body without a known state, an unknown upstream or endpoint, and GET on an endpoint path', async () => {
    expect((await post('/api/v1/breakers/payments/10.0.0.7:8080', '{"state":"half_open"}')).status).toBe(400);
    expect((await post('/api/v1/breakers/payments/10.0.0.7:8080', 'open')).status).toBe(400);
    expect((await post('/api/v1/breakers/orders/10.0.0.7:8080', '{"state":"open"}')).body.error).toBe('no upstream orders');
    expect((await post('/api/v1/breakers/payments/10.0.0.9:8080', '{"state":"open"}')).status).toBe(404);
    expect((await get('/api/v1/breakers/payments/10.0.0.7:8080')).status).toBe(405);
    expect(source.forced).toEqual([]);
  });

  it('takes overrides only on a loopback listener', () => {
    expect(['127.0.0.1', '127.3.0.1', '::1', '::ffff:127.0.0.1'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.7', '::ffff:10.0.0.7', '128.0.0.1'].map(isLoopback)).toEqual([false, false, false, false, false]);
  });
});

describe('admin server gossip', () => {
  async function post(path: string, body: string) {
    const res = await request(`http://127.0.0.1:${server.address.port}${path}`, { method: 'POST', body, dispatcher: client });
    return { status: res.statusCode, body: JSON.parse(await res.body.text()) as Record<string, unknown> };
  }

  it('shows members and key fingerprints, or 404 naming gossip when it is not configured', async () => {
    expect(JSON.parse((await get('/api/v1/members')).body)).toEqual(source.memberView);
    expect(JSON.parse((await get('/api/v1/gossip/keys')).body)).toEqual(source.keyView);
    source.memberView = undefined;
    source.keyView = undefined;
    for (const path of ['/api/v1/members', '/api/v1/gossip/keys']) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body).error).toMatch(/gossip is not configured/);
    }
  });

  it('installs, uses and removes keys by POST, and refuses a bad body, an unknown action and GET', async () => {
    for (const action of ['install', 'use', 'remove'] as const) expect((await post(`/api/v1/gossip/keys/${action}`, '{"key":"k1"}')).status).toBe(200);
    expect(source.keyChanges).toEqual([['install', 'k1'], ['use', 'k1'], ['remove', 'k1']]);
    expect(await post('/api/v1/gossip/keys/install', '{"key":"bad"}')).toEqual({ status: 400, body: { error: 'gossip key: must be base64 of 32 bytes' } });
    expect((await post('/api/v1/gossip/keys/install', 'k1')).status).toBe(400);
    expect((await post('/api/v1/gossip/keys/rotate', '{"key":"k1"}')).status).toBe(404);
    expect((await get('/api/v1/gossip/keys/install')).status).toBe(405);
    expect(source.keyChanges).toHaveLength(3);
  });
});

describe('admin server with admin.token', () => {
  let token: string | undefined = 's3cret-admin';
  let guarded: AdminServer;

  beforeEach(async () => {
    token = 's3cret-admin';
    guarded = await startAdminServer({ listen: { host: '127.0.0.1', port: 0 }, metrics, source, logger: silent, decisions, clock: systemClock, token: () => token });
  });

  afterEach(async () => {
    await guarded.close();
  });

  async function post(path: string, body: string, authorization?: string) {
    const res = await request(`http://127.0.0.1:${guarded.address.port}${path}`, {
      method: 'POST', body, dispatcher: client, headers: authorization === undefined ? {} : { authorization },
    });
    return { status: res.statusCode, headers: res.headers, body: JSON.parse(await res.body.text()) as { error?: string } };
  }

  it('refuses every admin POST without a bearer token with 401, and with another token with 403, changing nothing', async () => {
    for (const [path, body] of [['/api/v1/breakers/payments/10.0.0.7:8080', '{"state":"open"}'], ['/api/v1/gossip/keys/install', '{"key":"k1"}']] as const) {
      const missing = await post(path, body);
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="meshlet-admin"');
      expect(missing.body.error).toMatch(/admin\.token: send "authorization: Bearer <token>"/);
      expect((await post(path, body, 'Basic czNjcmV0LWFkbWlu')).status).toBe(401);
      const wrong = await post(path, body, 'Bearer s3cret-admim');
      expect(wrong.status).toBe(403);
      expect(wrong.body.error).toMatch(/not this agent's admin\.token/);
    }
    expect(source.forced).toEqual([]);
    expect(source.keyChanges).toEqual([]);
  });

  it('takes them with the token, and follows a token changed by reload', async () => {
    expect((await post('/api/v1/breakers/payments/10.0.0.7:8080', '{"state":"open"}', 'Bearer s3cret-admin')).status).toBe(200);
    expect((await post('/api/v1/gossip/keys/install', '{"key":"k1"}', 'bearer s3cret-admin')).status).toBe(200);
    token = 'rotated';
    expect((await post('/api/v1/breakers/payments/10.0.0.7:8080', '{"state":"auto"}', 'Bearer s3cret-admin')).status).toBe(403);
    expect((await post('/api/v1/breakers/payments/10.0.0.7:8080', '{"state":"auto"}', 'Bearer rotated')).status).toBe(200);
    expect(source.forced).toEqual([['payments', '10.0.0.7:8080', 'open'], ['payments', '10.0.0.7:8080', 'auto']]);
  });

  it('leaves reads open: GET needs no token', async () => {
    const res = await request(`http://127.0.0.1:${guarded.address.port}/api/v1/breakers`, { dispatcher: client });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });
});
