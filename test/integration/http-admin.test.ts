// What an operator reads off the admin port after traffic: per-endpoint request counts and
// durations in /metrics, endpoints and picker state in /api/v1/upstreams, and the effective
// config with its secrets redacted.
import { connect as connectH2 } from 'node:http2';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { adminJson, h2Request, metricsText, pollUntil, sampleValue } from './http-support.ts';

const token = 'admin-test-secret-token';
let catalog: SampleUpstream[];
let pricing: SampleUpstream;
let agent: RunningAgent;
const dispatcher = new Agent();

beforeAll(async () => {
  [catalog, pricing] = await Promise.all([
    Promise.all(['adm-a', 'adm-b'].map((id) => startUpstream({ kind: 'http1', id }))),
    startUpstream({ kind: 'h2c', id: 'adm-p' }),
  ]);
  agent = await startAgent({
    node: 'admin-test',
    admin: { listen: '127.0.0.1:0' },
    log: { level: 'info', access: true },
    control: { address: '127.0.0.1:7950', token },
    upstreams: [
      { name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: catalog.map((u) => u.address), policy: { lb: { algorithm: 'round_robin' } } },
      { name: 'pricing', protocol: 'http2', listen: '127.0.0.1:0', endpoints: [pricing.address], policy: { lb: { algorithm: 'peak_ewma' } } },
    ],
  });

  // The traffic every test below reads back: 4 × 2xx over HTTP/1.1, 3 × 4xx over HTTP/2.
  for (let i = 0; i < 4; i++) {
    const res = await request(`http://${agent.listeners['upstream:catalog']}/items/${i}`, { dispatcher });
    await res.body.dump();
  }
  const session = connectH2(`http://${agent.listeners['upstream:pricing']}`);
  try {
    for (let i = 0; i < 3; i++) await h2Request(session, { ':path': `/quote/${i}`, 'x-status': '404' });
  } finally {
    session.close();
  }
});

afterAll(async () => {
  await dispatcher.close();
  await agent?.stop();
  await Promise.all([...(catalog ?? []), pricing].map((u) => u?.stop()));
});

describe('access log (log.access: true)', () => {
  it('writes one JSON line per proxied request with upstream, endpoint, status and protocol', async () => {
    // A line is written when the call settles and reaches this process through a pipe, so the
    // last one may trail the response the client already has.
    const accessLines = async () => agent.logs().filter((line) => line.log === 'access');
    const lines = await pollUntil(accessLines, (found) => found.length >= 7);
    expect(lines).toHaveLength(7);
    expect(lines.filter((l) => l.upstream === 'catalog' && l.status === 200 && l.protocol === 'http1' && l.method === 'GET')).toHaveLength(4);
    expect(lines.filter((l) => l.upstream === 'pricing' && l.status === 404 && l.protocol === 'http2' && l.endpoint === pricing.address)).toHaveLength(3);
    expect(lines.find((l) => l.path === '/items/0')).toMatchObject({ endpoint: expect.stringMatching(/^127\.0\.0\.1:\d+$/), durationMs: expect.any(Number), bytes: expect.any(Number) });
  });
});

describe('/metrics', () => {
  it('counts requests by upstream, endpoint, protocol and status class', async () => {
    const text = await metricsText(agent);
    for (const instance of catalog) {
      expect(sampleValue(text, 'meshlet_requests_total', { upstream: 'catalog', endpoint: instance.address, protocol: 'http1', status_class: '2xx' })).toBe(2);
    }
    expect(sampleValue(text, 'meshlet_requests_total', { upstream: 'pricing', endpoint: pricing.address, protocol: 'http2', status_class: '4xx' })).toBe(3);
    expect(sampleValue(text, 'meshlet_requests_total', { upstream: 'pricing', status_class: '2xx' })).toBe(0);
  });

  it('records each request in the duration histogram', async () => {
    const text = await metricsText(agent);
    const catalogA = { upstream: 'catalog', endpoint: catalog[0]!.address, protocol: 'http1' };
    expect(sampleValue(text, 'meshlet_request_duration_seconds_count', catalogA)).toBe(2);
    expect(sampleValue(text, 'meshlet_request_duration_seconds_bucket', { ...catalogA, le: '+Inf' })).toBe(2);
    expect(sampleValue(text, 'meshlet_request_duration_seconds_sum', catalogA)).toBeGreaterThan(0);
    expect(sampleValue(text, 'meshlet_request_duration_seconds_count', { upstream: 'pricing', protocol: 'http2' })).toBe(3);
  });
});

describe('/api/v1/upstreams', () => {
  interface UpstreamView {
    name: string;
    protocol: string;
    algorithm: string;
    endpoints: { address: string; weight: number; picker: { inFlight: number; ewmaMs?: number } | null }[];
  }

  it('lists every upstream with its endpoints and picker state', async () => {
    const upstreams = await adminJson<UpstreamView[]>(agent, '/api/v1/upstreams');
    const byName = new Map(upstreams.map((u) => [u.name, u]));
    expect([...byName.keys()].sort()).toEqual(['catalog', 'pricing']);

    const catalogView = byName.get('catalog')!;
    expect(catalogView).toMatchObject({ protocol: 'http', algorithm: 'round_robin' });
    expect(catalogView.endpoints.map((e) => e.address)).toEqual(catalog.map((u) => u.address));
    for (const endpoint of catalogView.endpoints) expect(endpoint.picker).toMatchObject({ address: endpoint.address, inFlight: 0 });

    const pricingView = byName.get('pricing')!;
    expect(pricingView).toMatchObject({ protocol: 'http2', algorithm: 'peak_ewma' });
    expect(pricingView.endpoints[0]!.picker!.ewmaMs).toBeGreaterThan(0);
  });
});

describe('/api/v1/config', () => {
  it('shows the effective config with control.token redacted', async () => {
    const res = await request(`http://${agent.admin}/api/v1/config`, { dispatcher });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(text).not.toContain(token);
    const config = JSON.parse(text) as { node: string; control: { token: string }; upstreams: { name: string }[] };
    expect(config.node).toBe('admin-test');
    expect(config.control.token).toBe('[redacted]');
    expect(config.upstreams.map((u) => u.name)).toEqual(['catalog', 'pricing']);
  });
});
