// Outlier detection through a real agent: three instances, one answering 500 to every second
// request (never five in a row, so only success rate can catch it), under a paced client. What
// the user sees: the bad instance is ejected, it then gets almost no requests until its
// ejection time is over, and the decision log says why and for how long.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { decisionBacklog, metricsText, sampleValue } from './http-support.ts';

/** Wall-clock arrival times of the requests an instance received. */
interface Instance {
  readonly server: Server;
  readonly arrivals: number[];
  address: string;
}

function startInstance(failEverySecond: boolean): Promise<Instance> {
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    req.resume();
    arrivals.push(Date.now());
    res.statusCode = failEverySecond && arrivals.length % 2 === 0 ? 500 : 200;
    res.end('ok');
  });
  const instance: Instance = { server, arrivals, address: '' };
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      instance.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve(instance);
    }),
  );
}

const RATE_PER_SECOND = 100;
const DURATION_MS = 12_000;

let instances: Instance[];
let agent: RunningAgent;
const dispatcher = new Agent({ connections: 32, headersTimeout: 5000, bodyTimeout: 5000 });

beforeAll(async () => {
  instances = await Promise.all([startInstance(false), startInstance(false), startInstance(true)]);
  agent = await startAgent({
    node: 'outlier-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      {
        name: 'flaky',
        protocol: 'http',
        listen: '127.0.0.1:0',
        endpoints: instances.map((i) => i.address),
        policy: { outlierDetection: { interval: '1s', baseEjectionTime: '4s', successRate: { requestVolume: 10 } } },
      },
    ],
  });
});

afterAll(async () => {
  await dispatcher.close();
  await agent?.stop();
  await Promise.all((instances ?? []).map((i) => new Promise((resolve) => i.server.close(resolve))));
});

describe('an instance answering 500 to every second request', () => {
  it('is ejected by success rate, and until its ejection time is over gets under 5 % of the requests', async () => {
    const url = `http://${agent.listeners['upstream:flaky']}/`;
    const started = Date.now();
    const calls: Promise<number>[] = [];
    for (let i = 0; i < (RATE_PER_SECOND * DURATION_MS) / 1000; i++) {
      const due = started + (i * 1000) / RATE_PER_SECOND;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      calls.push(
        request(url, { dispatcher }).then(
          async (res) => (await res.body.dump(), res.statusCode),
          () => 0,
        ),
      );
    }
    await Promise.all(calls);
    const ended = Date.now();

    const bad = instances[2]!;
    const log = (await decisionBacklog(agent)).filter((d) => d.scope === 'flaky' && d.endpoint === bad.address);
    const ejections = log.filter((d) => d.kind === 'ejected');
    expect(ejections.length).toBeGreaterThan(0);
    expect(ejections[0]!.reason).toMatch(/^ejected for 4 s \(1st time\): success rate 5\d\.\d % of \d+ calls in 1 s, below \d+\.\d % \(peers 100 %\)$/);
    // Caught within a few intervals of the start, even on a loaded machine.
    expect(ejections[0]!.at - started).toBeLessThan(6000);

    // Each ejection until it ends (or the run does): the bad instance's share of the arrivals.
    const everyArrival = instances.flatMap((i) => i.arrivals);
    for (const ejection of ejections) {
      const end = log.find((d) => d.kind === 'unejected' && d.seq > ejection.seq)?.at ?? ended;
      const inWindow = (t: number) => t > ejection.at && t <= end;
      const total = everyArrival.filter(inWindow).length;
      const toBad = bad.arrivals.filter(inWindow).length;
      expect(total).toBeGreaterThan(50);
      expect(toBad / total).toBeLessThan(0.05);
    }
    // Back after its 4 s, it fails again and is ejected for longer.
    expect(log.some((d) => d.kind === 'unejected')).toBe(true);
    expect(ejections[1]?.reason).toMatch(/^ejected for 8 s \(2nd time\)/);

    const metrics = await metricsText(agent);
    expect(sampleValue(metrics, 'meshlet_outlier_ejections_total', { upstream: 'flaky', reason: 'success_rate' })).toBeGreaterThanOrEqual(2);
    expect(sampleValue(metrics, 'meshlet_outlier_ejections_total', { upstream: 'flaky', reason: 'consecutive' })).toBe(0);
  }, 40_000);
});
