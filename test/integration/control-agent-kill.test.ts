// kill -9 of the real `meshlet control` under steady traffic: no client request fails, the agent
// keeps the policy in force, and when the control plane is back on the same address and data
// directory (its lock left by the killed process is stale) the agent reconnects by itself and
// takes the version applied since.
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient } from '../../src/control/control-proto.ts';
import { AGENT_TOKEN, call, controlClient, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { until } from '../helpers/until.ts';
import { adminJson } from './http-support.ts';
import { countingHttp1Upstream, type CountingUpstream } from './limits-support.ts';
import { pacedLoad } from './paced-load.ts';

const document = (timeout: string): string => JSON.stringify({ upstreams: { catalog: { timeout } } });

async function ackedVersion(client: ControlClient): Promise<number | undefined> {
  const listed = await call(client, 'ListAgents', {}).catch(() => undefined);
  const agent = listed?.agents.find((a) => a.node === 'orders-1');
  return agent?.connected ? agent.version : undefined;
}

describe('kill -9 of the control plane under steady traffic', () => {
  let dir: string;
  let upstream: CountingUpstream;
  let agent: RunningAgent;
  const planes: RunningControl[] = [];
  const clients: ControlClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlet-control-kill-'));
    upstream = await countingHttp1Upstream();
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await agent?.stop();
    for (const plane of planes) await plane.stop('SIGKILL');
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails no client request, keeps the policy, and resyncs when the control plane is back', async () => {
    const dataDir = join(dir, 'control');
    const first = await startControl({ dataDir });
    planes.push(first);
    const firstClient = controlClient(first.address);
    clients.push(firstClient);
    expect(await call(firstClient, 'ApplyPolicy', { documentJson: document('6s'), force: true })).toMatchObject({ ok: true, version: 1 });
    agent = await startAgent({
      node: 'orders-1',
      admin: { listen: '127.0.0.1:0' },
      control: { address: first.address, token: AGENT_TOKEN, cache: join(dir, 'cache.json') },
      upstreams: [{ name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address], policy: { timeout: '9s' } }],
    });
    await until(async () => (await ackedVersion(firstClient)) === 1, 15_000, 'the agent acked v1');

    let killed: Promise<unknown> | undefined;
    let second: Promise<RunningControl> | undefined;
    const result = await pacedLoad({
      url: `http://${agent.listeners['upstream:catalog']!}/`,
      rate: 100,
      seconds: 8,
      onTick: (sent) => {
        if (sent === 150) killed = first.stop('SIGKILL');
        if (sent === 400) second = killed!.then(() => startControl({ dataDir, listen: first.address }));
      },
    });
    const failed = result.statuses.filter((status) => status !== 200).length;
    console.log(`meshlet control killed at request 150, back at 400: ${result.sent} requests in ${(result.elapsedMs / 1000).toFixed(1)} s, ${failed} not 200`);
    expect(result.sent).toBe(800);
    expect(failed).toBe(0);
    expect(await killed).toMatchObject({ signal: 'SIGKILL' });
    await agent.waitForLog((l) => l.msg === 'control plane stream lost: running on the policy in force');
    expect((await adminJson<{ name: string; timeoutMs: number }[]>(agent, '/api/v1/upstreams')).find((u) => u.name === 'catalog')!.timeoutMs).toBe(6000);

    const back = await second!;
    planes.push(back);
    const backClient = controlClient(back.address);
    clients.push(backClient);
    // The restarted control plane kept v1 on disk; the agent comes back to it on its own.
    await until(async () => (await ackedVersion(backClient)) === 1, 45_000, 'the agent reconnected on v1');
    expect(await call(backClient, 'ApplyPolicy', { documentJson: document('5s'), expectedVersion: 1 })).toMatchObject({ ok: true, version: 2 });
    await until(async () => (await ackedVersion(backClient)) === 2, 15_000, 'the agent acked v2');
    const catalog = (await adminJson<{ name: string; timeoutMs: number }[]>(agent, '/api/v1/upstreams')).find((u) => u.name === 'catalog')!;
    expect(catalog.timeoutMs).toBe(5000);
  });
});
