// Every balancing algorithm through a real agent: one upstream per algorithm over the same
// three sample instances, each on its own port, and the spread of requests a user would see.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { adminJson, pollUntil, tally } from './http-support.ts';

const ids = ['lb-a', 'lb-b', 'lb-c'];
let instances: SampleUpstream[];
let slowServer: Server;
let slowAddress: string;
let agent: RunningAgent;
const dispatcher = new Agent({ connections: 64 });

/** An instance that takes 200 ms over every answer, for peak_ewma to learn to avoid. */
function startSlowServer(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    setTimeout(() => {
      res.setHeader('x-instance', 'slow');
      res.end('slow');
    }, 200);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  [instances, slowServer] = await Promise.all([Promise.all(ids.map((id) => startUpstream({ kind: 'http1', id }))), startSlowServer()]);
  slowAddress = `127.0.0.1:${(slowServer.address() as AddressInfo).port}`;
  const plain = instances.map((u) => u.address);
  const upstream = (name: string, lb: object, endpoints: unknown[] = plain): object => ({
    name, protocol: 'http', listen: '127.0.0.1:0', endpoints, policy: { lb },
  });
  agent = await startAgent({
    node: 'balancing-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      upstream('rr', { algorithm: 'round_robin' }),
      upstream('wrr', { algorithm: 'weighted_round_robin' }, instances.map((u, i) => ({ address: u.address, weight: i === 0 ? 3 : 1 }))),
      upstream('random', { algorithm: 'random' }),
      upstream('least', { algorithm: 'least_request' }),
      upstream('ewma', { algorithm: 'peak_ewma' }, [plain[0], plain[1], slowAddress]),
      upstream('ring', { algorithm: 'ring_hash', hashOn: { header: 'x-user-id' } }),
      upstream('maglev', { algorithm: 'maglev', hashOn: { header: 'x-user-id' } }),
    ],
  });
});

afterAll(async () => {
  await dispatcher.close();
  await agent?.stop();
  await Promise.all((instances ?? []).map((u) => u.stop()));
  await new Promise((resolve) => slowServer?.close(resolve));
});

async function instanceOf(upstream: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await request(`http://${agent.listeners[`upstream:${upstream}`]}/`, { dispatcher, headers });
  await res.body.dump();
  expect(res.statusCode).toBe(200);
  return String(res.headers['x-instance']);
}

async function sequential(upstream: string, count: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < count; i++) seen.push(await instanceOf(upstream, headers(i)));
  return seen;
}

interface UpstreamView {
  name: string;
  algorithm: string;
  endpoints: { address: string; picker: { inFlight: number; ewmaMs?: number } | null }[];
}

async function upstreamView(name: string): Promise<UpstreamView> {
  const all = await adminJson<UpstreamView[]>(agent, '/api/v1/upstreams');
  return all.find((u) => u.name === name)!;
}

describe('balancing through the agent', () => {
  it('round_robin takes the instances in turn', async () => {
    const seen = await sequential('rr', 30);
    expect(tally(seen)).toEqual({ 'lb-a': 10, 'lb-b': 10, 'lb-c': 10 });
    // In turn: no instance twice in any window of three.
    for (let i = 0; i + 3 <= seen.length; i++) expect(new Set(seen.slice(i, i + 3)).size).toBe(3);
  });

  it('weighted_round_robin gives weights 3/1/1 exactly their share of every cycle', async () => {
    const seen = await sequential('wrr', 50);
    expect(tally(seen)).toEqual({ 'lb-a': 30, 'lb-b': 10, 'lb-c': 10 });
    for (let cycle = 0; cycle < 50; cycle += 5) expect(tally(seen.slice(cycle, cycle + 5))).toEqual({ 'lb-a': 3, 'lb-b': 1, 'lb-c': 1 });
  });

  it('random spreads roughly evenly', async () => {
    const counts = tally(await sequential('random', 150));
    for (const id of ids) expect(counts[id]).toBeGreaterThanOrEqual(25);
  });

  it('least_request spreads roughly evenly and shows requests in flight in the admin API', async () => {
    const counts = tally(await sequential('least', 150));
    for (const id of ids) expect(counts[id]).toBeGreaterThanOrEqual(25);

    const pending = Array.from({ length: 6 }, () => instanceOf('least', { 'x-delay-ms': '600' }));
    const view = await pollUntil(() => upstreamView('least'), (v) => v.endpoints.reduce((sum, e) => sum + (e.picker?.inFlight ?? 0), 0) === 6);
    expect(view.algorithm).toBe('least_request');
    expect(view.endpoints.map((e) => e.picker?.inFlight ?? 0).reduce((a, b) => a + b)).toBe(6);
    // Least-request never stacks all six on one instance while the others are idle.
    for (const endpoint of view.endpoints) expect(endpoint.picker!.inFlight).toBeLessThanOrEqual(4);
    const spread = tally(await Promise.all(pending));
    expect(Object.keys(spread).length).toBeGreaterThanOrEqual(2);
  });

  it('peak_ewma steers away from a slow instance and shows its estimate', async () => {
    const counts = tally(await sequential('ewma', 60));
    expect(counts.slow ?? 0).toBeLessThanOrEqual(4);
    // Each fast instance wins at least every draw that pairs it with the slow one (a third of them).
    expect(counts['lb-a']).toBeGreaterThanOrEqual(8);
    expect(counts['lb-b']).toBeGreaterThanOrEqual(8);

    const view = await upstreamView('ewma');
    const slow = view.endpoints.find((e) => e.address === slowAddress)!.picker!;
    const fast = view.endpoints.filter((e) => e.address !== slowAddress).map((e) => e.picker!.ewmaMs!);
    expect(slow.ewmaMs).toBeGreaterThan(100);
    for (const estimate of fast) expect(estimate).toBeLessThan(slow.ewmaMs!);
  });

  for (const name of ['ring', 'maglev']) {
    it(`${name === 'ring' ? 'ring_hash' : 'maglev'} keeps each x-user-id on one instance and spreads the keys`, async () => {
      const keys = Array.from({ length: 30 }, (_, i) => `user-${i}`);
      const home = new Map<string, string>();
      for (let round = 0; round < 3; round++) {
        for (const key of keys) {
          const instance = await instanceOf(name, { 'x-user-id': key });
          if (round === 0) home.set(key, instance);
          else expect(instance, key).toBe(home.get(key));
        }
      }
      expect(new Set(home.values())).toEqual(new Set(ids));
    });
  }
});
