// The replicated control plane on loopback: three etcd members, two `meshlet control --store
// etcd://…` replicas and one real agent with both replicas in control.address. One replica
// leads; an apply through the follower reaches the agent; one etcd member down changes nothing;
// kill -9 of the leader hands the agent to the other replica within a few seconds, with no
// apply that was answered lost, never two leaders at once, and the agent serving throughout.
import type { ServiceError } from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../src/control/control-proto.ts';
import { AGENT_TOKEN, OPERATOR_TOKEN, apply, call, controlClient, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import { meshlet } from '../helpers/meshlet-cli.ts';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { until } from '../helpers/until.ts';
import { countingHttp1Upstream, type CountingUpstream } from './limits-support.ts';

interface Replica {
  readonly control: RunningControl;
  readonly client: ControlClient;
}

async function leads(replica: Replica): Promise<boolean> {
  const response = await fetch(`http://${replica.control.admin}/api/v1/leader`, { signal: AbortSignal.timeout(2_000) });
  return ((await response.json()) as { leader: boolean }).leader;
}

/** The agent as the replica's ListAgents shows it (undefined: not there, or the replica does not lead). */
async function agentOn(replica: Replica): Promise<{ connected: boolean; version: number } | undefined> {
  const listed = await call(replica.client, 'ListAgents', {}).catch(() => undefined);
  return listed?.agents.find((agent) => agent.node === 'orders-1');
}

const document = (n: number): object => ({ upstreams: { catalog: { timeout: `${n}s` } } });

describe('two control-plane replicas on three etcd members', () => {
  let cluster: EtcdCluster;
  let dir: string;
  let upstream: CountingUpstream;
  let agent: RunningAgent;
  const replicas: Replica[] = [];
  let leader: Replica;
  let follower: Replica;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlet-etcd-failover-'));
    cluster = await EtcdCluster.start(3);
    for (let i = 0; i < 2; i++) {
      const control = await startControl({ store: cluster.storeUrl });
      replicas.push({ control, client: controlClient(control.address) });
    }
    upstream = await countingHttp1Upstream();
    agent = await startAgent({
      node: 'orders-1',
      admin: { listen: '127.0.0.1:0' },
      control: { address: replicas.map((r) => r.control.address).join(','), token: AGENT_TOKEN, cache: join(dir, 'cache.json') },
      upstreams: [{ name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address], policy: { timeout: '9s' } }],
    });
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    for (const replica of replicas) {
      replica.client.close();
      await replica.control.stop('SIGKILL');
    }
    await upstream?.close();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('elects exactly one leader, and an apply through the follower reaches the agent', async () => {
    await until(async () => (await Promise.all(replicas.map(leads))).filter(Boolean).length === 1, 20_000, 'one replica leads');
    const leading = await Promise.all(replicas.map(leads));
    leader = replicas[leading.indexOf(true)]!;
    follower = replicas[leading.indexOf(false)]!;

    const refused = await call(follower.client, 'ListAgents', {}).then(() => undefined, (error: ServiceError) => error);
    expect(refused?.code).toBe(14);
    expect(refused?.metadata.get('meshlet-leader')).toEqual([leader.control.address]);

    const applied = await apply(follower.client, document(1), 0);
    expect(applied).toMatchObject({ ok: true, version: 1 });
    await until(async () => (await agentOn(leader))?.version === 1, 20_000, 'the agent acked version 1 on the leader');
    expect((await call(leader.client, 'GetPolicy', { version: 0 })).version).toBe(1);
  });

  it('lets the CLI name the replicas, follower first: `meshlet agents` (leader only) goes where the follower points', async () => {
    const env = { ...process.env, MESHLET_TOKEN: OPERATOR_TOKEN, MESHLET_CONTROL: `${follower.control.address},${leader.control.address}` };
    const agents = await meshlet(['agents', '-o', 'json'], env);
    expect(agents.stderr).toBe('');
    expect(agents.code).toBe(0);
    expect((JSON.parse(agents.stdout) as { agents: { node: string; version: number }[] }).agents).toMatchObject([{ node: 'orders-1', version: 1 }]);
    // The follower alone is enough: it names the leader, and the CLI goes there.
    const viaFollower = await meshlet(['agents', '-o', 'json', '--server', follower.control.address], env);
    expect(viaFollower.code).toBe(0);
    expect(viaFollower.stdout).toBe(agents.stdout);
  });

  it('keeps applying and pushing with one etcd member of three down', async () => {
    const down = await cluster.raftFollower();
    await cluster.kill(down);
    try {
      expect(await apply(follower.client, document(2), 1)).toMatchObject({ ok: true, version: 2 });
      expect(await apply(leader.client, document(3), 2)).toMatchObject({ ok: true, version: 3 });
      await until(async () => (await agentOn(leader))?.version === 3, 20_000, 'the agent acked version 3 on the leader');
      expect(await leads(leader)).toBe(true);
      expect(await leads(follower)).toBe(false);
    } finally {
      await cluster.restart(down);
    }
  }, 60_000);

  it('fails over within a few seconds of kill -9 of the leader: no answered apply lost, never two leaders, traffic served', async () => {
    const answered: { version: number; documentJson: string }[] = [];
    const samples: boolean[][] = [];
    let trafficFailures = 0;
    let trafficSent = 0;
    let running = true;
    let killedAt = 0;
    const url = `http://${agent.listeners['upstream:catalog']!}/`;

    // Applies through both replicas, each on top of what that replica knows, until told to stop.
    const applier = (async () => {
      for (let n = 10; running && n < 400; n++) {
        const via = n % 2 === 0 ? leader : follower;
        const current = await call(via.client, 'GetPolicy', { version: 0 }).catch(() => undefined);
        if (current === undefined) continue;
        const result = await apply(via.client, document(n), current.version).catch(() => undefined);
        if (result?.ok) answered.push({ version: result.version, documentJson: JSON.stringify(document(n)) });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    // Who says it leads, every 50 ms, from each replica still running.
    const sampler = (async () => {
      while (running) {
        samples.push(await Promise.all(replicas.map((r) => (r === leader && killedAt > 0 ? false : leads(r).catch(() => false)))));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const traffic = (async () => {
      while (running && trafficSent < 500) {
        trafficSent++;
        const ok = await fetch(url, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text().then(() => r.status === 200), () => false);
        if (!ok) trafficFailures++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    await until(async () => answered.length >= 3, 20_000, 'applies before the kill');
    killedAt = performance.now();
    await leader.control.stop('SIGKILL');
    const before = answered.length;
    await until(async () => (await agentOn(follower))?.connected === true, 20_000, 'the agent is on the other replica');
    const failoverMs = performance.now() - killedAt;
    await until(async () => answered.length >= before + 3, 20_000, 'applies after the failover');
    running = false;
    await Promise.all([applier, sampler, traffic]);
    console.log(`failover: kill -9 of the leader → the agent connected to the new leader (its ListAgents) in ${(failoverMs / 1000).toFixed(2)} s; ${answered.length} applies answered; ${samples.length} leadership samples; ${trafficSent} requests through the agent, ${trafficFailures} failed`);

    expect(failoverMs).toBeLessThan(10_000);
    expect(samples.filter((s) => s.filter(Boolean).length > 1)).toEqual([]);
    expect(trafficFailures).toBe(0);

    const history = (await call(follower.client, 'ListPolicyVersions', { beforeVersion: 0, pageSize: 500 })).versions.map((v) => v.version);
    const newest = history[0]!;
    expect(history).toEqual(Array.from({ length: newest }, (_, i) => newest - i));
    expect(new Set(answered.map((a) => a.version)).size).toBe(answered.length);
    for (const { version, documentJson } of answered) {
      expect((await call(follower.client, 'GetPolicy', { version })).documentJson).toBe(documentJson);
    }
    await until(async () => (await agentOn(follower))?.version === newest, 20_000, 'the agent acked the newest version on the new leader');
  }, 90_000);

  it('steps down when etcd is gone, before its lease could expire, ending the agent stream; leads again when etcd is back', async () => {
    const survivor = follower;
    const fromLine = agent.logs().length;
    const cutAt = performance.now();
    await Promise.all([0, 1, 2].map((i) => cluster.kill(i)));
    const stepDownMs = await until(async () => !(await leads(survivor)), 20_000, 'the replica without etcd stops leading');
    console.log(`etcd gone → the leader stepped down in ${(stepDownMs / 1000).toFixed(2)} s (lease TTL 3 s)`);
    // Its lease was last renewed at most a keepalive interval (1 s) before etcd went; it expires 3 s after that.
    expect(performance.now() - cutAt).toBeLessThan(3_000);
    await until(async () => agent.logs().slice(fromLine).some((l) => l.msg === 'control plane stream lost: running on the policy in force'), 10_000, 'the agent saw its stream end');
    const refused = await call(survivor.client, 'ListAgents', {}).then(() => undefined, (error: ServiceError) => error);
    expect(refused?.code).toBe(14);
    expect(await fetch(`http://${agent.listeners['upstream:catalog']!}/`).then((r) => r.status)).toBe(200);

    await Promise.all([0, 1, 2].map((i) => cluster.restart(i)));
    await until(async () => leads(survivor), 30_000, 'the replica leads again');
    await until(async () => (await agentOn(survivor))?.connected === true, 40_000, 'the agent is back on it');
  }, 120_000);
});

describe('meshlet control --store', () => {
  it('refuses a malformed etcd URL, naming the flag, and --data together with --store', async () => {
    const malformed = await meshlet(['control', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--store', 'etcd://127.0.0.1:2379,nope'], { ...process.env, MESHLET_OPERATOR_TOKEN: OPERATOR_TOKEN, MESHLET_AGENT_TOKEN: AGENT_TOKEN });
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('--store etcd://127.0.0.1:2379,nope: member 2 of');
    const both = await meshlet(['control', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--data', tmpdir(), '--store', 'etcd://127.0.0.1:2379'], { ...process.env, MESHLET_OPERATOR_TOKEN: OPERATOR_TOKEN, MESHLET_AGENT_TOKEN: AGENT_TOKEN });
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('give exactly one of --data DIR');
  });

  it('refuses to start, saying so, when no etcd member answers', async () => {
    const nobody = 'etcd://127.0.0.1:1';
    const started = performance.now();
    const unreachable = await meshlet(['control', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--store', nobody], { ...process.env, MESHLET_OPERATOR_TOKEN: OPERATOR_TOKEN, MESHLET_AGENT_TOKEN: AGENT_TOKEN });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`etcd at ${nobody} could not read the current policy version`);
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
