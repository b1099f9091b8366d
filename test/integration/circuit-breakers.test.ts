// Circuit breakers through a real agent: an upstream whose instances all fail is answered at
// once by its open breaker without a connection attempt (counted where the upstream accepts),
// and an operator forcing one endpoint's breaker open takes it out of the traffic.
import { createServer, type Server, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { adminJson, h2Request, h2Session, metricsText, sampleValue, tally } from './http-support.ts';

/** An instance that takes every connection and closes it at once: a failure the agent sees as a reset. */
function startSlammingServer(): Promise<{ server: Server; address: string; accepts: () => number }> {
  let accepts = 0;
  const server = createServer((socket: Socket) => {
    accepts++;
    socket.destroy();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ server, address: `127.0.0.1:${port}`, accepts: () => accepts });
    }),
  );
}

interface BreakerView {
  state: string;
  override: string;
  calls: number;
  failures: number;
  errorPercentage: number;
  lastFailure: string | null;
  lastTransition: { at: string; from: string; to: string; reason: string } | null;
}
interface UpstreamBreakers {
  upstream: string;
  breaker: BreakerView;
  endpoints: (BreakerView & { address: string; exclusions: string[] })[];
}

const dispatcher = new Agent({ connections: 8 });
let down: Awaited<ReturnType<typeof startSlammingServer>>[];
let instances: SampleUpstream[];
let agent: RunningAgent;

beforeAll(async () => {
  [down, instances] = await Promise.all([Promise.all([startSlammingServer(), startSlammingServer()]), Promise.all(['cb-a', 'cb-b'].map((id) => startUpstream({ kind: 'http1', id })))]);
  agent = await startAgent({
    node: 'breakers-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      // A reset timeout far past the test: once open, the breakers stay open.
      { name: 'down', protocol: 'http', listen: '127.0.0.1:0', endpoints: down.map((d) => d.address), policy: { circuitBreaker: { volumeThreshold: 4, window: '10s', resetTimeout: '10m' } } },
      { name: 'pair', protocol: 'http', listen: '127.0.0.1:0', endpoints: instances.map((u) => u.address), policy: { circuitBreaker: { resetTimeout: '10m' } } },
    ],
  });
});

afterAll(async () => {
  await dispatcher.close();
  await agent?.stop();
  await Promise.all((instances ?? []).map((u) => u.stop()));
  await Promise.all((down ?? []).map((d) => new Promise((resolve) => d.server.close(resolve))));
});

async function get(upstream: string): Promise<{ status: number; error: string | undefined; instance: string | undefined; ms: number }> {
  const started = performance.now();
  const res = await request(`http://${agent.listeners[`upstream:${upstream}`]}/`, { dispatcher });
  await res.body.dump();
  const ms = performance.now() - started;
  const header = (name: string) => (res.headers[name] === undefined ? undefined : String(res.headers[name]));
  return { status: res.statusCode, error: header('x-meshlet-error'), instance: header('x-instance'), ms };
}

async function breakersOf(name: string): Promise<UpstreamBreakers> {
  return (await adminJson<UpstreamBreakers[]>(agent, '/api/v1/breakers')).find((b) => b.upstream === name)!;
}

function post(path: string, body: unknown): Promise<number> {
  return request(`http://${agent.admin}${path}`, { method: 'POST', body: JSON.stringify(body), dispatcher }).then(async (res) => {
    await res.body.dump();
    return res.statusCode;
  });
}

describe('circuit breakers', () => {
  it('answer an upstream whose instances all fail at once, with no connection attempted once open', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 20 && seen.at(-1) !== 'MESHLET_CIRCUIT_OPEN'; i++) seen.push((await get('down')).error ?? 'none');
    expect(seen.at(-1)).toBe('MESHLET_CIRCUIT_OPEN');
    expect(seen.slice(0, -1).every((e) => e === 'MESHLET_UPSTREAM_RESET')).toBe(true);
    const acceptsAtOpen = down.map((d) => d.accepts());

    const latencies: number[] = [];
    // The first 50 warm up the client and the agent's code for this answer; the next 300 are measured.
    for (let i = 0; i < 350; i++) {
      const answer = await get('down');
      expect(answer).toMatchObject({ status: 503, error: 'MESHLET_CIRCUIT_OPEN' });
      if (i >= 50) latencies.push(answer.ms);
    }
    expect(down.map((d) => d.accepts())).toEqual(acceptsAtOpen);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    console.log(`all down, breaker open: p50 ${latencies[150]!.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms over 300 sequential calls`);
    // The issue's figure is 5 ms; the bound is generous for a loaded 2-core machine.
    expect(p99).toBeLessThan(25);

    // A gRPC client is told UNAVAILABLE, as trailers-only, with the same code.
    const session = h2Session(agent.listeners['upstream:down']!);
    try {
      const grpc = await h2Request(session, { ':method': 'POST', ':path': '/demo.v1.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers' }, '');
      expect([grpc.status, grpc.headers['grpc-status'], grpc.headers['x-meshlet-error']]).toEqual([200, '14', 'MESHLET_CIRCUIT_OPEN']);
    } finally {
      session.close();
    }
    expect(down.map((d) => d.accepts())).toEqual(acceptsAtOpen);

    const view = await breakersOf('down');
    expect(view.breaker.state).toBe('open');
    expect(view.breaker.lastTransition?.reason).toMatch(/^the upstream's breaker opened: \d+ of \d+ calls failed in the last 10s \(100 % ≥ 50 %, at least 4 calls\), last MESHLET_UPSTREAM_RESET from 127\.0\.0\.1:\d+/);
    // The upstream's breaker opened at 4 calls over both instances; each instance's own saw its share.
    expect(view.endpoints.map((e) => [e.failures > 0, e.failures === e.calls])).toEqual([[true, true], [true, true]]);
    const text = await metricsText(agent);
    expect(sampleValue(text, 'meshlet_breaker_state', { upstream: 'down', endpoint: '' })).toBe(2);
    expect(sampleValue(text, 'meshlet_breaker_transitions_total', { upstream: 'down', endpoint: '', from: 'closed', to: 'open' })).toBe(1);
  });

  it('take an endpoint an operator forced open out of the traffic, show why, and bring it back when forced closed', async () => {
    const [a, b] = instances;
    expect(new Set(await Promise.all(Array.from({ length: 6 }, async () => (await get('pair')).instance)))).toEqual(new Set(['cb-a', 'cb-b']));
    expect(await post(`/api/v1/breakers/pair/${encodeURIComponent(a!.address)}`, { state: 'open' })).toBe(200);
    const forced: string[] = [];
    for (let i = 0; i < 20; i++) forced.push((await get('pair')).instance ?? 'none');
    expect(tally(forced)).toEqual({ 'cb-b': 20 });

    const view = await breakersOf('pair');
    const endpoint = view.endpoints.find((e) => e.address === a!.address)!;
    expect(endpoint).toMatchObject({ state: 'open', override: 'open', exclusions: ['breaker_open'], lastTransition: { from: 'closed', to: 'open', reason: 'forced open by operator' } });
    expect(Date.parse(endpoint.lastTransition!.at)).toBeGreaterThan(Date.now() - 60_000);
    expect(view.endpoints.find((e) => e.address === b!.address)).toMatchObject({ state: 'closed', calls: expect.any(Number), failures: 0 });

    expect(await post(`/api/v1/breakers/pair/${a!.address}`, { state: 'closed' })).toBe(200);
    const after: string[] = [];
    for (let i = 0; i < 10; i++) after.push((await get('pair')).instance ?? 'none');
    expect(tally(after)).toEqual({ 'cb-a': 5, 'cb-b': 5 });
    expect(await post(`/api/v1/breakers/pair/${a!.address}`, { state: 'sideways' })).toBe(400);
    expect(await post('/api/v1/breakers/pair/127.0.0.1:1', { state: 'open' })).toBe(404);
  });
});
