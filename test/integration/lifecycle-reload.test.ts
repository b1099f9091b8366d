// Config reload on a running agent: SIGHUP (and --watch) apply a valid config at once, refuse
// an invalid one while the old config keeps serving, and never fail a request in flight.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool, request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentNodeArgs } from '../../src/cli/agent-v8-flags.ts';
import { ManagedChild } from '../../src/cli/demo/managed-child.ts';
import { repoRoot } from '../../src/cli/demo/repo-root.ts';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';

interface UpstreamView {
  name: string;
  algorithm: string;
  endpoints: Array<{ address: string }>;
}

function agentConfig(endpoints: readonly string[], algorithm: string, extraPolicy: object = {}): object {
  return {
    admin: { listen: '127.0.0.1:0' },
    upstreams: [{
      name: 'catalog',
      protocol: 'http',
      listen: '127.0.0.1:0',
      endpoints,
      policy: { lb: { algorithm }, timeout: '5s', ...extraPolicy },
    }],
  };
}

async function catalogView(admin: string): Promise<UpstreamView> {
  const res = await request(`http://${admin}/api/v1/upstreams`);
  const all = (await res.body.json()) as UpstreamView[];
  return all.find((u) => u.name === 'catalog')!;
}

async function reloadCount(admin: string, result: 'applied' | 'rejected'): Promise<number> {
  const text = await (await request(`http://${admin}/metrics`)).body.text();
  const match = new RegExp(`^meshlet_config_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/** The x-instance of `count` sequential GETs through `pool`; every one must be a 200. */
async function instancesSeen(pool: Pool, count: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const res = await pool.request({ path: '/', method: 'GET' });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    seen.add(String(res.headers['x-instance']));
  }
  return seen;
}

let instances: SampleUpstream[] = [];
let addresses: string[] = [];

beforeAll(async () => {
  instances = await Promise.all(['a', 'b', 'c'].map((id) => startUpstream({ kind: 'http1', id: `cat-${id}` })));
  addresses = instances.map((u) => u.address);
});

afterAll(async () => {
  await Promise.all(instances.map((u) => u.stop()));
});

describe('config reload by SIGHUP', () => {
  let agent: RunningAgent;
  let pool: Pool;

  beforeAll(async () => {
    agent = await startAgent(agentConfig(addresses.slice(0, 2), 'round_robin'));
    pool = new Pool(`http://${agent.listeners['upstream:catalog']!}`, { connections: 10 });
  });

  afterAll(async () => {
    await pool?.close();
    await agent?.stop();
  });

  it('applies an added endpoint and a new algorithm, and sends requests to the new set', async () => {
    expect(await instancesSeen(pool, 6)).toEqual(new Set(['cat-a', 'cat-b']));
    const outcome = await agent.reload(agentConfig(addresses, 'least_request'));
    expect(outcome.applied).toBe(true);
    expect(outcome.log.reason).toBe('SIGHUP');
    expect(outcome.log.listeners).toMatchObject({ 'upstream:catalog': agent.listeners['upstream:catalog'] });

    const view = await catalogView(agent.admin);
    expect(view.algorithm).toBe('least_request');
    expect(view.endpoints.map((e) => e.address)).toEqual(addresses);
    expect(await instancesSeen(pool, 30)).toEqual(new Set(['cat-a', 'cat-b', 'cat-c']));
  });

  it('refuses an unknown field, names it, counts it, and keeps serving with the old config', async () => {
    const before = await reloadCount(agent.admin, 'rejected');
    const config = agentConfig(addresses.slice(2), 'round_robin', { retires: 3 });
    const outcome = await agent.reload(config);
    expect(outcome.applied).toBe(false);
    expect(outcome.log.issues).toContainEqual({ path: 'upstreams[0].policy.retires', message: 'unknown field' });
    expect(await reloadCount(agent.admin, 'rejected')).toBe(before + 1);

    const view = await catalogView(agent.admin);
    expect(view.algorithm).toBe('least_request');
    expect(view.endpoints).toHaveLength(3);
    expect((await instancesSeen(pool, 30)).size).toBe(3);
  });

  it('refuses an unknown algorithm with the choices in the message', async () => {
    const outcome = await agent.reload(agentConfig(addresses.slice(0, 1), 'fastest'));
    expect(outcome.applied).toBe(false);
    const issues = outcome.log.issues as Array<{ path: string; message: string }>;
    const algorithm = issues.find((i) => i.path === 'upstreams[0].policy.lb.algorithm');
    expect(algorithm?.message).toMatch(/^expected one of round_robin, .*maglev, got "fastest"$/);
    expect((await catalogView(agent.admin)).endpoints).toHaveLength(3);
    expect((await instancesSeen(pool, 30)).size).toBe(3);
  });

  it('applies the rest of a config whose new listener cannot be opened, and says which', async () => {
    // round_robin, so six sequential requests reach all three instances.
    const config = agentConfig(addresses, 'round_robin') as { upstreams: object[] };
    // The admin port is taken by the agent itself, so this listener cannot be opened.
    config.upstreams.push({ name: 'orders', protocol: 'http', listen: agent.admin, endpoints: [addresses[0]!] });
    const outcome = await agent.reload(config);
    expect(outcome.applied).toBe(true);
    const failure = await agent.waitForLog((line) => line.msg === 'listener could not be opened', 5000);
    expect(failure).toMatchObject({ listener: 'upstream:orders', address: agent.admin });
    expect(String(failure.error)).toContain('EADDRINUSE');
    expect((await request(`http://${agent.admin}/readyz`)).statusCode).toBe(200);
    expect((await instancesSeen(pool, 6)).size).toBe(3);
  });

  it('loses no request while reloading five times under load', async () => {
    const configs = [
      agentConfig(addresses.slice(0, 2), 'round_robin'),
      agentConfig(addresses.slice(1), 'least_request'),
      agentConfig([addresses[0]!, addresses[2]!], 'peak_ewma'),
      agentConfig(addresses, 'random'),
      agentConfig(addresses.slice(0, 1), 'weighted_round_robin'),
    ];
    const clients = 10;
    const maxPerClient = 1_000;
    const failures: string[] = [];
    let sent = 0;
    let stop = false;
    const client = async (): Promise<void> => {
      for (let i = 0; i < maxPerClient && !stop; i++) {
        sent++;
        try {
          const res = await pool.request({ path: `/load/${i}`, method: 'GET', headers: { 'x-delay-ms': String(i % 5) } });
          await res.body.dump();
          if (res.statusCode !== 200) failures.push(`status ${res.statusCode} ${String(res.headers['x-meshlet-error'] ?? '')}`);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const load = Promise.all(Array.from({ length: clients }, client));
    for (const config of configs) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect((await agent.reload(config)).applied).toBe(true);
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    stop = true;
    await load;

    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(200);
    expect(await instancesSeen(pool, 5)).toEqual(new Set(['cat-a']));
  });
});

describe('config reload by --watch', () => {
  let dir: string;
  let path: string;
  let upstream: string;
  let agent: ManagedChild;
  let admin: string;

  /** Runs `change`, then resolves with the agent's verdict on the reload it triggers. */
  async function verdictAfter(change: () => Promise<void>): Promise<string> {
    const from = agent.lineCount;
    await change();
    const line = await agent.waitForLine((l) => l.msg === 'config applied' || l.msg === 'config rejected', 10_000, from);
    expect(line.reason).toBe('file changed');
    return String(line.msg);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlet-watch-'));
    path = join(dir, 'agent.yaml');
    upstream = addresses[0]!;
    await writeFile(path, stringify(agentConfig([upstream], 'round_robin')));
    agent = ManagedChild.spawnNode('agent --watch', agentNodeArgs(['-c', path, '--watch']), { cwd: repoRoot });
    const ready = await agent.waitForLine((line) => line.msg === 'agent ready', 15_000);
    admin = (ready.listeners as Record<string, string>).admin!;
  });

  afterAll(async () => {
    await agent?.stop('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('reloads when the config file is rewritten in place', async () => {
    const verdict = await verdictAfter(() => writeFile(path, stringify(agentConfig([upstream], 'maglev'))));
    expect(verdict).toBe('config applied');
    expect((await catalogView(admin)).algorithm).toBe('maglev');
  });

  it('keeps reloading when editors replace the file instead of writing it in place', async () => {
    for (const algorithm of ['random', 'ring_hash', 'least_request']) {
      const verdict = await verdictAfter(async () => {
        const temporary = join(dir, `.agent.yaml.${algorithm}`);
        await writeFile(temporary, stringify(agentConfig([upstream], algorithm)));
        await rename(temporary, path);
      });
      expect(verdict).toBe('config applied');
      expect((await catalogView(admin)).algorithm).toBe(algorithm);
    }
  });

  it('rejects an invalid rewrite and keeps serving with the last good config', async () => {
    expect(await verdictAfter(() => writeFile(path, 'upstreams: [ { name: catalog'))).toBe('config rejected');
    expect((await catalogView(admin)).algorithm).toBe('least_request');
  });
});
