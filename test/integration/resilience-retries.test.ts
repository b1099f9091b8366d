// Retries, the retry budget and hedging through a real agent process, against real upstreams on
// loopback, under a paced client: an instance killed with SIGKILL costs no idempotent request
// and leaves the picks at its first refused connect;
// a storm of 503s is not multiplied by the attempts; a slow instance is hedged around.
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { decisionBacklog, metricsText, sampleValue } from './http-support.ts';
import { countingHttp1Upstream, type CountingUpstream } from './limits-support.ts';
import { pacedLoad, quantile } from './paced-load.ts';

const RATE = 200;
let agent: RunningAgent | undefined;
let samples: SampleUpstream[] = [];
let counting: CountingUpstream[] = [];

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await Promise.all(samples.map((u) => u.stop()));
  await Promise.all(counting.map((u) => u.close()));
  samples = [];
  counting = [];
});

function upstreamConfig(name: string, endpoints: readonly string[], policy: object): object {
  return { name, protocol: 'http', listen: '127.0.0.1:0', endpoints, policy };
}

describe('retries through a real agent', () => {
  it('kill -9 of one of three instances under 200 req/s: no idempotent request fails, the dead one leaves the picks at its first refused connect, and gets no attempt after 2 s', async () => {
    samples = await Promise.all(['kill-a', 'kill-b', 'kill-c'].map((id) => startUpstream({ kind: 'http1', id })));
    agent = await startAgent({
      node: 'retries-kill',
      admin: { listen: '127.0.0.1:0' },
      upstreams: [
        upstreamConfig('catalog', samples.map((u) => u.address), {
          timeout: '5s',
          retry: { attempts: 3, on: ['connect-failure', 'reset', '5xx'], backoff: { base: '5ms', max: '50ms' }, budget: { ratio: 0.2, minPerSecond: 10 } },
          outlierDetection: { consecutiveFailures: 5, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 50 },
        }),
      ],
    });
    const victim = samples[0]!;
    const killAt = 2 * RATE;
    const attemptsToVictim = (text: string): number => sampleValue(text, 'meshlet_requests_total', { upstream: 'catalog', endpoint: victim.address });
    let atKill: Promise<string> | undefined;
    let twoSecondsAfter: Promise<string> | undefined;
    // Each answer takes 50 ms, so requests are in flight at the victim when it dies.
    const result = await pacedLoad({
      url: `http://${agent.listeners['upstream:catalog']}/items`,
      rate: RATE,
      seconds: 6,
      headers: { 'x-delay-ms': '50' },
      onTick: (sent) => {
        if (sent === killAt) {
          atKill = metricsText(agent!);
          void atKill.then(() => process.kill(victim.pid, 'SIGKILL'));
        }
        if (sent === killAt + 2 * RATE) twoSecondsAfter = metricsText(agent!);
      },
    });
    const failed = result.statuses.filter((status) => status !== 200);
    const text = await metricsText(agent);
    const beforeKill = await atKill!;
    expect(failed).toEqual([]);
    // Connect failures are attempts too: after the ejection there are none.
    expect(attemptsToVictim(text)).toBe(attemptsToVictim(await twoSecondsAfter!));
    // Besides the calls in flight when it died, about one: its first refused connect takes it out of the picks.
    const inFlightAtKill = sampleValue(beforeKill, 'meshlet_endpoint_requests_in_flight', { upstream: 'catalog', endpoint: victim.address });
    expect(attemptsToVictim(text) - attemptsToVictim(beforeKill)).toBeLessThanOrEqual(inFlightAtKill + 3);
    const unreachable = (await decisionBacklog(agent)).filter((d) => d.kind === 'unreachable' && d.endpoint === victim.address);
    expect(unreachable.map((d) => d.reason)).toEqual([expect.stringMatching(/^unreachable: its connection was refused;/)]);
    expect(sampleValue(text, 'meshlet_retries_total', { upstream: 'catalog' })).toBeGreaterThan(0);
  }, 30_000);

  it('a retry storm (every instance answers 503 at 200 req/s for 5 s) reaches the upstreams at most (1 + ratio) × the calls + the floor', async () => {
    counting = await Promise.all([0, 1, 2].map(() => countingHttp1Upstream((_req, res) => {
      res.statusCode = 503;
      res.end('down');
    })));
    const ratio = 0.2;
    const minPerSecond = 10;
    agent = await startAgent({
      node: 'retries-storm',
      admin: { listen: '127.0.0.1:0' },
      upstreams: [
        upstreamConfig('catalog', counting.map((u) => u.address), {
          timeout: '5s',
          retry: { attempts: 3, on: ['5xx'], backoff: { base: '1ms', max: '10ms' }, budget: { ratio, minPerSecond } },
          limits: { maxRetries: 100 },
        }),
      ],
    });
    const result = await pacedLoad({ url: `http://${agent.listeners['upstream:catalog']}/items`, rate: RATE, seconds: 5 });
    const received = counting.reduce((sum, u) => sum + u.requests, 0);
    // The floor is per second of the budget's clock: the run touches at most ceil(elapsed) + 1 of them.
    const seconds = Math.ceil(result.elapsedMs / 1000) + 1;
    expect(result.statuses.every((status) => status === 503)).toBe(true);
    expect(received).toBeGreaterThan(result.sent);
    expect(received).toBeLessThanOrEqual((1 + ratio) * result.sent + minPerSecond * seconds);
    const text = await metricsText(agent);
    expect(sampleValue(text, 'meshlet_retry_budget_exhausted_total', { upstream: 'catalog', kind: 'retry' })).toBeGreaterThan(0);
    console.log(`storm: ${result.sent} client requests, ${received} at the upstreams (bound ${(1 + ratio) * result.sent + minPerSecond * seconds})`);
  }, 30_000);
});

const HEDGE_DELAY_MS = 20;

describe('hedging through a real agent', () => {
  it('one of three instances becomes 100 ms slower: with peak_ewma and a 20 ms hedge, the client p99 stays within 2× the all-healthy p99 (+ the hedge delay)', async () => {
    const fast = await Promise.all([0, 1, 2, 3, 4].map(() => countingHttp1Upstream()));
    let slowedBy = 0;
    // As fast as the others until it becomes slow, so that peak_ewma spreads over it while warming up.
    const slow = await countingHttp1Upstream((_req, res) => {
      if (slowedBy === 0) res.end('ok');
      else setTimeout(() => res.end('slow'), slowedBy);
    });
    counting = [...fast, slow];
    agent = await startAgent({
      node: 'hedging',
      admin: { listen: '127.0.0.1:0' },
      upstreams: [
        upstreamConfig('healthy', fast.slice(0, 3).map((u) => u.address), { lb: { algorithm: 'peak_ewma' } }),
        upstreamConfig('hedged', [fast[3]!.address, fast[4]!.address, slow.address], {
          lb: { algorithm: 'peak_ewma' },
          // A fixed delay, not p95: on a machine this busy the p95 itself can pass 100 ms.
          hedge: { delay: `${HEDGE_DELAY_MS}ms` },
          retry: { budget: { ratio: 0.2, minPerSecond: 10 } },
        }),
      ],
    });
    const url = (name: string): string => `http://${agent!.listeners[`upstream:${name}`]}/items`;
    // Warm both up (connections, and the latencies a p95 needs) with every instance fast; then
    // one becomes slow, and both are measured at once so that a busy machine slows them alike.
    await Promise.all([pacedLoad({ url: url('healthy'), rate: 100, seconds: 1 }), pacedLoad({ url: url('hedged'), rate: 100, seconds: 1 })]);
    slowedBy = 100;
    const beforeSlow = slow.requests;
    const [healthy, hedged] = await Promise.all([pacedLoad({ url: url('healthy'), rate: RATE / 2, seconds: 5 }), pacedLoad({ url: url('hedged'), rate: RATE / 2, seconds: 5 })]);
    const healthyP99 = quantile(healthy.latenciesMs, 0.99);
    const hedgedP99 = quantile(hedged.latenciesMs, 0.99);
    console.log(`hedging: p99 ${hedgedP99.toFixed(1)} ms against ${healthyP99.toFixed(1)} ms all healthy; the slow instance got ${slow.requests} requests in all`);
    expect(hedged.statuses.every((status) => status === 200)).toBe(true);
    // A call sent to the slow instance waits the hedge delay before its hedge goes out: on an idle
    // machine the healthy p99 is a few ms, so the delay itself is allowed on top of 2×.
    expect(hedgedP99).toBeLessThanOrEqual(2 * healthyP99 + HEDGE_DELAY_MS);
    // peak_ewma may steer clear of the slow instance on its own; every call it did get was hedged around.
    const text = await metricsText(agent);
    const hedges = sampleValue(text, 'meshlet_hedges_total', { upstream: 'hedged' });
    if (slow.requests > beforeSlow) expect(hedges).toBeGreaterThan(0);
  }, 30_000);
});

describe('unwanted HTTP/1.1 responses keep their connections', () => {
  async function callsInSequence(url: string, count: number, gapMs: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) {
      const response = await fetch(url);
      await response.arrayBuffer();
      statuses.push(response.status);
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    return statuses;
  }

  it("a hedge's losing attempt is read to its end, so the slow instance's connection is reused rather than closed per hedge", async () => {
    const fast = await countingHttp1Upstream();
    const slow = await countingHttp1Upstream((_req, res) => setTimeout(() => res.end('slow'), 40));
    counting = [fast, slow];
    agent = await startAgent({
      node: 'hedge-drain',
      admin: { listen: '127.0.0.1:0' },
      upstreams: [upstreamConfig('hedged', [fast.address, slow.address], { hedge: { delay: '5ms' }, retry: { budget: { ratio: 1, minPerSecond: 100 } } })],
    });
    // round_robin sends every second call to the slow instance; each of those is hedged, and
    // the gap lets the loser finish before the next one arrives.
    const statuses = await callsInSequence(`http://${agent.listeners['upstream:hedged']}/items`, 20, 80);
    expect(statuses.every((status) => status === 200)).toBe(true);
    const hedges = sampleValue(await metricsText(agent), 'meshlet_hedges_total', { upstream: 'hedged' });
    expect(hedges).toBeGreaterThanOrEqual(8);
    expect(slow.requests).toBeGreaterThanOrEqual(8);
    expect(slow.connections).toBeLessThanOrEqual(2);
  }, 30_000);

  it('a losing attempt that never finishes is cut off after the drain limit, and its connection closed', async () => {
    const fast = await countingHttp1Upstream();
    // Its head comes long after the hedge has won (on a loaded machine too), then a body that never ends.
    const stuck = await countingHttp1Upstream((_req, res) => setTimeout(() => res.write('never ends'), 2000));
    counting = [fast, stuck];
    agent = await startAgent({
      node: 'hedge-drain-limit',
      admin: { listen: '127.0.0.1:0' },
      upstreams: [upstreamConfig('hedged', [stuck.address, fast.address], { hedge: { delay: '50ms' }, retry: { budget: { ratio: 1, minPerSecond: 100 } } })],
    });
    // round_robin sends one or both of two calls to the stuck instance (a hedge's pick moves it on); each is hedged.
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`http://${agent.listeners['upstream:hedged']}/items`);
      expect(await response.text()).toBe('ok');
    }
    expect(stuck.requests).toBeGreaterThanOrEqual(1);
    const cutOff = Date.now() + 10_000;
    while (stuck.inProgress > 0 && Date.now() < cutOff) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stuck.inProgress).toBe(0);
  }, 30_000);

  it('a 503 the retry step discards is read to its end: the failing instance is not sent a new connection per retried call', async () => {
    const ok = await countingHttp1Upstream();
    const failing = await countingHttp1Upstream((_req, res) => {
      res.statusCode = 503;
      res.end('x'.repeat(2000));
    });
    counting = [ok, failing];
    agent = await startAgent({
      node: 'retry-drain',
      admin: { listen: '127.0.0.1:0' },
      upstreams: [upstreamConfig('retried', [ok.address, failing.address], { retry: { attempts: 2, on: ['5xx'], backoff: { base: '1ms', max: '2ms' }, budget: { ratio: 1, minPerSecond: 100 } } })],
    });
    const statuses = await callsInSequence(`http://${agent.listeners['upstream:retried']}/items`, 20, 20);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(failing.requests).toBeGreaterThanOrEqual(8);
    expect(failing.connections).toBeLessThanOrEqual(2);
  }, 30_000);
});
