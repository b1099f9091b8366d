// Ten real agents on 127.0.0.x find each other by gossip alone: each fronts an instance of
// "orders" and calls "orders" through its own upstream, which has no static endpoints. One
// agent is killed with SIGKILL under load; every survivor marks it dead, its instance leaves
// every balancer, and the client calling through another agent sees no failed request.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGossipKey } from '../../src/gossip/keyring.ts';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { metricsText, sampleValue } from './http-support.ts';
import { pacedLoad } from './paced-load.ts';
import { until } from '../helpers/until.ts';

const AGENTS = 10;
const KEY = generateGossipKey();
// Fast timings so the test takes seconds: a probe every 200 ms, suspicion of about a second.
const TIMING = { probeInterval: '200ms', probeTimeout: '100ms', gossipInterval: '50ms', pushPullInterval: '2s' };

interface MemberView {
  readonly node: string;
  readonly addr: string;
  readonly status: string;
}
interface UpstreamView {
  readonly name: string;
  readonly endpoints: readonly { readonly address: string; readonly health: string }[];
}

let apps: SampleUpstream[] = [];
const agents: RunningAgent[] = [];

async function getJson<T>(agent: RunningAgent, path: string): Promise<T> {
  const res = await fetch(`http://${agent.admin}${path}`);
  return (await res.json()) as T;
}

const membersOf = async (agent: RunningAgent) => (await getJson<{ members: MemberView[] }>(agent, '/api/v1/members')).members;
const ordersEndpoints = async (agent: RunningAgent) => (await getJson<UpstreamView[]>(agent, '/api/v1/upstreams')).find((u) => u.name === 'orders')!.endpoints;

function agentConfig(i: number, app: SampleUpstream, seed: string | undefined): object {
  return {
    node: `agent-${i}`,
    admin: { listen: '127.0.0.1:0' },
    gossip: { bind: `127.0.0.${10 + i}:0`, join: seed ? [seed] : [], keys: [KEY], ...TIMING },
    services: [{ name: 'orders', protocol: 'http', target: app.address, listen: `127.0.0.${10 + i}:0`, health: { http: '/healthz', interval: '200ms', timeout: '100ms', fall: 1, rise: 1 } }],
    upstreams: [
      {
        name: 'orders',
        protocol: 'http',
        listen: '127.0.0.1:0',
        policy: { retry: { attempts: 3, on: ['connect-failure', 'reset', '5xx'], backoff: { base: '5ms', max: '20ms' }, budget: { ratio: 0.5, minPerSecond: 20 } }, outlierDetection: { consecutiveFailures: 2, interval: '1s', baseEjectionTime: '5s' } },
      },
    ],
  };
}


beforeAll(async () => {
  apps = await Promise.all(Array.from({ length: AGENTS }, (_, i) => startUpstream({ kind: 'http1', id: `orders-${i}` })));
  // Ten agents starting at once on a busy 2-core machine can take longer than startAgent's default wait.
  agents.push(await startAgent(agentConfig(0, apps[0]!, undefined), { readyTimeoutMs: 60_000 }));
  const seed = (await getJson<{ self: { addr: string } }>(agents[0]!, '/api/v1/members')).self.addr;
  agents.push(...(await Promise.all(apps.slice(1).map((app, i) => startAgent(agentConfig(i + 1, app, seed), { readyTimeoutMs: 60_000 })))));
}, 150_000);

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop().catch(() => undefined)));
  await Promise.all(apps.map((app) => app.stop()));
});

describe('ten agents on loopback, gossip only', () => {
  it('converge: every agent sees the nine others alive and balances over all ten instances', async () => {
    const took = await until(async () => {
      const views = await Promise.all(agents.map(membersOf));
      return views.every((members) => members.filter((m) => m.status === 'alive').length === AGENTS - 1);
    }, 20_000, 'full membership');
    await until(async () => (await Promise.all(agents.map(ordersEndpoints))).every((endpoints) => endpoints.filter((e) => e.health === 'healthy').length === AGENTS), 20_000, 'every instance healthy in every balancer');
    console.log(`gossip cluster: ${AGENTS} agents converged in ${took.toFixed(0)} ms`);
  }, 60_000);

  it('kill -9 of one agent under load: everyone marks it dead, its instance leaves every balancer, and the caller sees no failed request', async () => {
    const victim = agents[5]!;
    const client = agents[2]!;
    const victimAddress = (await ordersEndpoints(victim)).find((e) => e.address.startsWith('127.0.0.15:'))!.address;
    const survivors = agents.filter((agent) => agent !== victim);
    let killedAt = 0;
    const load = pacedLoad({
      url: `http://${client.listeners['upstream:orders']}/items`,
      rate: 100,
      seconds: 8,
      onTick: (sent) => {
        if (sent === 100) {
          killedAt = performance.now();
          process.kill(victim.pid, 'SIGKILL');
        }
      },
    });
    // Polled from the kill on, alongside the load.
    while (killedAt === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await until(async () => (await Promise.all(survivors.map(membersOf))).every((members) => members.find((m) => m.node === 'agent-5')?.status === 'dead'), 20_000, 'everyone marks agent-5 dead');
    const detectedS = (performance.now() - killedAt) / 1000;
    const result = await load;
    const views = await Promise.all(survivors.map(ordersEndpoints));
    for (const endpoints of views) expect(endpoints.map((e) => e.address)).not.toContain(victimAddress);
    console.log(`gossip cluster: agent-5 dead everywhere ${detectedS.toFixed(1)} s after kill -9; ${result.statuses.filter((s) => s !== 200).length} of ${result.sent} calls failed`);
    expect(result.statuses.filter((status) => status !== 200)).toEqual([]);
  }, 60_000);

  it('counts what it saw: members by state and the death it detected, in /metrics', async () => {
    const text = await metricsText(agents[2]!);
    expect(sampleValue(text, 'meshlet_gossip_members', { state: 'alive' })).toBe(AGENTS - 2);
    expect(sampleValue(text, 'meshlet_gossip_member_changes_total', { status: 'dead' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'meshlet_gossip_probes_total', { result: 'ack' })).toBeGreaterThan(0);
    expect(sampleValue(text, 'meshlet_health_checks_total', { service: 'orders', result: 'pass' })).toBeGreaterThan(0);
  });

  it('rotates the gossip key on every agent through the admin API with no member lost', async () => {
    const live = agents.filter((agent) => agent !== agents[5]);
    const next = generateGossipKey();
    const post = async (agent: RunningAgent, action: string, key: string) => (await fetch(`http://${agent.admin}/api/v1/gossip/keys/${action}`, { method: 'POST', body: JSON.stringify({ key }) })).status;
    for (const agent of live) expect(await post(agent, 'install', next)).toBe(200);
    for (const agent of live) expect(await post(agent, 'use', next)).toBe(200);
    // The old primary can go only once nobody seals with it.
    for (const agent of live) expect(await post(agent, 'remove', KEY)).toBe(200);
    const keys = await getJson<{ keys: { primary: boolean }[] }>(live[0]!, '/api/v1/gossip/keys');
    expect(keys.keys).toHaveLength(1);
    expect(JSON.stringify(keys)).not.toContain(next);
    // A few probe intervals later everyone still sees everyone alive.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const members of await Promise.all(live.map(membersOf))) expect(members.filter((m) => m.status === 'alive')).toHaveLength(live.length - 1);
    expect(await post(live[0]!, 'remove', next)).toBe(409);
  }, 30_000);

  it('a graceful stop announces draining first: callers drop its instance while its listener still accepts, lose no call, and list it as left', async () => {
    const leaving = agents[7]!;
    const client = agents[3]!;
    const address = (await ordersEndpoints(client)).find((e) => e.address.startsWith('127.0.0.17:'))!.address;
    let stopping: Promise<unknown> | undefined;
    const load = pacedLoad({
      url: `http://${client.listeners['upstream:orders']}/items`,
      rate: 100,
      seconds: 5,
      onTick: (sent) => {
        if (sent === 100) stopping = leaving.stop('SIGTERM');
      },
    });
    while (stopping === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    // Polled tightly and checked at once: the drain window is only 20 of this test's 50 ms rounds.
    await until(async () => !(await ordersEndpoints(client)).some((e) => e.address === address), 10_000, 'the client drops agent-7', 10);
    expect(await accepts(address)).toBe(true);
    const result = await load;
    await stopping;
    expect(result.statuses.filter((status) => status !== 200)).toEqual([]);
    await until(async () => (await membersOf(client)).find((m) => m.node === 'agent-7')?.status === 'left', 10_000, 'agent-7 listed as left');
  }, 30_000);
});

function accepts(address: string): Promise<boolean> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = connect(Number(address.slice(colon + 1)), address.slice(0, colon));
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
