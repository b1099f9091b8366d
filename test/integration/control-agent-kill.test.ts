// kill -9 of the control plane under steady traffic: no client request fails, the agent keeps
// the policy in force, and when a control plane is back on the same address the agent
// reconnects by itself and takes its current snapshot.
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedChild } from '../../src/cli/demo/managed-child.ts';
import { repoRoot } from '../../src/cli/demo/repo-root.ts';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { adminJson } from './http-support.ts';
import { countingHttp1Upstream, type CountingUpstream } from './limits-support.ts';
import { pacedLoad } from './paced-load.ts';

/** The test control plane in a process of its own (test/helpers/control-plane-process.ts). */
async function controlPlaneProcess(port: number, version: number, document: object): Promise<{ child: ManagedChild; address: string }> {
  const child = ManagedChild.spawnNode('control', [join(repoRoot, 'bin/run-ts.js'), 'test/helpers/control-plane-process.ts', String(port), String(version), JSON.stringify(document)], { cwd: repoRoot });
  const line = await child.waitForLine((l) => l.msg === 'listening', 20_000);
  return { child, address: line.address as string };
}

const isAck = (version: number) => (l: Record<string, unknown>): boolean => l.msg === 'received' && l.kind === 'ack' && (l.ack as { version: number }).version === version;

describe('kill -9 of the control plane under steady traffic', () => {
  let dir: string;
  let upstream: CountingUpstream;
  let agent: RunningAgent;
  const children: ManagedChild[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlet-control-kill-'));
    upstream = await countingHttp1Upstream();
  });

  afterAll(async () => {
    await agent?.stop();
    for (const child of children) await child.stop('SIGKILL');
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails no client request, keeps the policy, and resyncs when the control plane is back', async () => {
    const first = await controlPlaneProcess(0, 1, { upstreams: { catalog: { timeout: '6s' } } });
    children.push(first.child);
    const port = Number(first.address.split(':')[1]);
    agent = await startAgent({
      node: 'orders-1',
      admin: { listen: '127.0.0.1:0' },
      control: { address: first.address, cache: join(dir, 'cache.json') },
      upstreams: [{ name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address], policy: { timeout: '9s' } }],
    });
    await first.child.waitForLine(isAck(1), 15_000);

    let killed: Promise<unknown> | undefined;
    let second: Promise<{ child: ManagedChild; address: string }> | undefined;
    const result = await pacedLoad({
      url: `http://${agent.listeners['upstream:catalog']!}/`,
      rate: 100,
      seconds: 8,
      onTick: (sent) => {
        if (sent === 150) killed = first.child.stop('SIGKILL');
        if (sent === 400) second = killed!.then(() => controlPlaneProcess(port, 2, { upstreams: { catalog: { timeout: '5s' } } }));
      },
    });
    const failed = result.statuses.filter((status) => status !== 200).length;
    console.log(`control plane killed at request 150, back at 400: ${result.sent} requests in ${(result.elapsedMs / 1000).toFixed(1)} s, ${failed} not 200`);
    expect(result.sent).toBe(800);
    expect(failed).toBe(0);
    expect(await killed).toMatchObject({ signal: 'SIGKILL' });
    await agent.waitForLog((l) => l.msg === 'control plane stream lost: running on the policy in force');

    const back = await second!;
    children.push(back.child);
    const hello = await back.child.waitForLine((l) => l.msg === 'received' && l.kind === 'hello', 45_000);
    expect((hello.hello as { policyVersion: number }).policyVersion).toBe(1);
    await back.child.waitForLine(isAck(2), 15_000);
    const catalog = (await adminJson<{ name: string; timeoutMs: number }[]>(agent, '/api/v1/upstreams')).find((u) => u.name === 'catalog')!;
    expect(catalog.timeoutMs).toBe(5000);
  });
});
