// A real agent process against a control plane (a grpc-js server implementing Control.Connect,
// test/helpers/control-plane.ts): it says hello, applies each snapshot live and ACKs it, NACKs
// what it cannot apply with the fields named while the last good policy stays, reports breakers
// at once, caches the last good snapshot and comes up on it when the control plane is down.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestControlPlane } from '../helpers/fake-control-plane.ts';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { until } from '../helpers/until.ts';
import { adminJson } from './http-support.ts';
import { countingHttp1Upstream, type CountingUpstream } from './limits-support.ts';

const TOKEN = 'agent-token';

interface UpstreamView {
  name: string;
  algorithm: string;
  timeoutMs: number;
}

const upstreamNamed = async (agent: RunningAgent, name: string): Promise<UpstreamView> =>
  (await adminJson<UpstreamView[]>(agent, '/api/v1/upstreams')).find((u) => u.name === name)!;

async function cachedVersion(path: string): Promise<number | undefined> {
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as { version: number }).version;
  } catch {
    return undefined;
  }
}

async function get(pool: Pool): Promise<number> {
  const res = await pool.request({ path: '/', method: 'GET' });
  await res.body.dump();
  return res.statusCode;
}

function agentConfig(plane: string, cache: string, upstream: string, catalogPolicy: object = {}): object {
  return {
    node: 'orders-1',
    admin: { listen: '127.0.0.1:0' },
    control: { address: plane, token: TOKEN, cache, reportInterval: '1s' },
    upstreams: [
      {
        name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream],
        policy: { timeout: '9s', lb: { algorithm: 'least_request' }, circuitBreaker: { volumeThreshold: 5, window: '10s', resetTimeout: '30s' }, ...catalogPolicy },
      },
      { name: 'payments', protocol: 'grpc', endpoints: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'], policy: { timeout: '4s' } },
    ],
  };
}

let dir: string;
let upstream: CountingUpstream;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshlet-control-agent-'));
  upstream = await countingHttp1Upstream();
});

afterAll(async () => {
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('an agent connected to a control plane', () => {
  let plane: TestControlPlane;
  let agent: RunningAgent;
  let pool: Pool;
  const cache = (): string => join(dir, 'connected.cache.json');

  beforeAll(async () => {
    plane = await TestControlPlane.start({ token: TOKEN, snapshot: { version: 1, document: { upstreams: { catalog: { timeout: '7s' } } } } });
    agent = await startAgent(agentConfig(plane.address, cache(), upstream.address));
    pool = new Pool(`http://${agent.listeners['upstream:catalog']!}`, { connections: 1 });
  });

  afterAll(async () => {
    await pool?.close();
    await agent?.stop();
    await plane?.stop();
  });

  it('says hello with its node, version, upstreams and no policy, then applies the current snapshot, ACKs it and caches it', async () => {
    const hello = await plane.waitFor((m) => m.kind === 'hello');
    expect(hello.message.hello).toEqual({ node: 'orders-1', version: '0.1.0', services: [], upstreams: ['catalog', 'payments'], policyVersion: 0 });
    await plane.waitFor((m) => m.kind === 'ack' && m.ack!.version === 1);
    expect((await upstreamNamed(agent, 'catalog')).timeoutMs).toBe(7000);
    await until(async () => (await cachedVersion(cache())) === 1, 10_000, 'cache holds v1');
  });

  it('applies a new snapshot live; what it leaves unchanged keeps its connections', async () => {
    expect(await get(pool)).toBe(200);
    const connections = upstream.connections;
    const from = plane.received.length;
    plane.publish(2, { upstreams: { catalog: { timeout: '7s' }, payments: { timeout: '1500ms' } } });
    await plane.waitFor((m) => m.kind === 'ack' && m.ack!.version === 2, 10_000, from);
    expect((await upstreamNamed(agent, 'payments')).timeoutMs).toBe(1500);
    expect(await get(pool)).toBe(200);
    expect(upstream.connections).toBe(connections);
    expect(agent.logs().some((l) => l.msg === 'policy applied' && l.policyVersion === 2)).toBe(true);
    // The cache is written (with fsyncs) after the ACK, so under load it can land a little later.
    await until(async () => (await cachedVersion(cache())) === 2, 10_000, 'cache holds v2');
  });

  it('NACKs a snapshot that does not fit its config, naming the fields, and keeps the last good one in force and in the cache', async () => {
    let from = plane.received.length;
    // Valid policy on its own; only with this agent's payments, which speaks gRPC, is it wrong.
    plane.publish(3, { upstreams: { catalog: { timeout: '7s' }, payments: { fallback: { status: 503 } } } });
    const nack = await plane.waitFor((m) => m.kind === 'nack', 10_000, from);
    expect(nack.message.nack).toEqual({ version: 3, errors: [{ path: 'upstreams.payments.fallback', message: expect.stringContaining('cannot answer gRPC calls') }] });

    from = plane.received.length;
    // Valid as config; only a picker built over its three endpoints can tell the table is too small.
    plane.publish(4, { defaults: { lb: { algorithm: 'maglev', tableSize: 2 } } });
    const prepare = await plane.waitFor((m) => m.kind === 'nack', 10_000, from);
    expect(prepare.message.nack!.version).toBe(4);
    expect(prepare.message.nack!.errors).toEqual([{ path: 'upstreams.payments', message: expect.stringContaining('fewer slots') }]);

    expect((await upstreamNamed(agent, 'payments')).timeoutMs).toBe(1500);
    expect((await upstreamNamed(agent, 'catalog')).algorithm).toBe('least_request');
    expect(await cachedVersion(cache())).toBe(2);
    expect(await get(pool)).toBe(200);
  });

  it('re-merges the policy in force over a reloaded YAML: the document keeps its sections, the YAML gets the rest', async () => {
    plane.publish(5, { upstreams: { catalog: { timeout: '7s' } } });
    await plane.waitFor((m) => m.kind === 'ack' && m.ack!.version === 5);
    const outcome = await agent.reload(agentConfig(plane.address, cache(), upstream.address, { timeout: '3s', lb: { algorithm: 'round_robin' } }));
    expect(outcome.applied).toBe(true);
    const catalog = await upstreamNamed(agent, 'catalog');
    expect(catalog.timeoutMs).toBe(7000);
    expect(catalog.algorithm).toBe('round_robin');
  });

  it('reports a breaker transition at once, with its reason', async () => {
    const from = plane.received.length;
    const started = performance.now();
    const res = await pool.request({ path: '/', method: 'GET' }).catch(() => undefined);
    await res?.body.dump();
    const forced = await fetch(`http://${agent.admin}/api/v1/breakers/catalog/${upstream.address}`, { method: 'POST', body: '{"state":"open"}' });
    expect(forced.status).toBe(200);
    const report = await plane.waitFor((m) => m.kind === 'report' && m.report!.breakers.some((b) => b.endpoint === upstream.address && b.state === 'BREAKER_STATE_OPEN'), 5_000, from);
    const elapsed = report.at - started;
    const breaker = report.message.report!.breakers.find((b) => b.endpoint === upstream.address)!;
    expect(breaker).toMatchObject({ upstream: 'catalog', reason: expect.stringContaining('operator') });
    expect(breaker.sinceMs).toBeGreaterThan(Date.now() - 60_000);
    // Well before the 1 s report interval could have carried it, even on a loaded machine.
    expect(elapsed).toBeLessThan(2_000);
    expect(report.message.report!.endpoints).toContainEqual(expect.objectContaining({ upstream: 'catalog', address: upstream.address, ejected: false }));
    expect(report.message.report!.upstreams.map((u) => u.name)).toEqual(['catalog', 'payments']);
    // The request just sent is in the last 10 s of traffic: a rate and a latency, for the upstream and its endpoint.
    const catalog = report.message.report!.upstreams[0]!;
    expect(catalog.requestsPerSecond).toBeGreaterThan(0);
    expect(catalog.p50Ms).toBeGreaterThan(0);
    expect(report.message.report!.endpoints.find((e) => e.address === upstream.address)!.requestsPerSecond).toBeGreaterThan(0);
    await fetch(`http://${agent.admin}/api/v1/breakers/catalog/${upstream.address}`, { method: 'POST', body: '{"state":"auto"}' });
  });

  it(`ACKs a snapshot within a bound: median of 20 from the server's send to the ACK`, async () => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      // Snapshots a second apart, as applies come: the next config worker is forked and warm by then.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const version = 100 + i;
      const from = plane.received.length;
      const sent = plane.publish(version, { upstreams: { catalog: { timeout: '7s' }, payments: { timeout: `${1000 + i}ms` } } });
      const ack = await plane.waitFor((m) => m.kind === 'ack' && m.ack!.version === version, 15_000, from);
      times.push(ack.at - sent);
    }
    times.sort((a, b) => a - b);
    const median = (times[9]! + times[10]!) / 2;
    console.log(`snapshot → ACK, one agent, 20 snapshots: median ${median.toFixed(1)} ms, min ${times[0]!.toFixed(1)}, max ${times[19]!.toFixed(1)}`);
    expect(median).toBeLessThan(2_000);
  });

  it('waits for snapshots without a config-loader process of its own: one process', async () => {
    // Its loader is a thread of the agent's process; a pre-forked loader process cost ~65 MiB more.
    // What the agent costs in memory is the control bench's to measure, not a test's to bound.
    expect(childPids(agent.pid)).toEqual([]);
    const rssMiB = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(agent.pid)], { encoding: 'utf8' }).trim()) / 1024;
    console.log(`agent with a control plane after this file's snapshots: RSS ${rssMiB.toFixed(1)} MiB, no child processes`);
  });
});

/** The PIDs of a process's children (pgrep exits 1 when there are none). */
function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').map(Number);
  } catch {
    return [];
  }
}

describe('an agent (re)started while the control plane is down', () => {
  const cache = (): string => join(dir, 'restart.cache.json');

  it('comes up on the cached policy at once, says so, and resyncs once the control plane is back', async () => {
    let plane = await TestControlPlane.start({ token: TOKEN, snapshot: { version: 7, document: { upstreams: { catalog: { timeout: '6s' } } } } });
    const port = Number(plane.address.split(':')[1]);
    const first = await startAgent(agentConfig(plane.address, cache(), upstream.address));
    await plane.waitFor((m) => m.kind === 'ack' && m.ack!.version === 7);
    await until(async () => (await cachedVersion(cache())) === 7, 10_000, 'cache holds v7');
    await first.stop();
    plane.kill();

    const agent = await startAgent(agentConfig(plane.address, cache(), upstream.address));
    try {
      const ready = agent.logs().findIndex((l) => l.msg === 'agent ready');
      const fromCache = agent.logs().findIndex((l) => l.msg === 'policy applied from cache');
      expect(fromCache).toBeGreaterThanOrEqual(0);
      expect(fromCache).toBeLessThan(ready);
      expect(agent.logs()[fromCache]).toMatchObject({ policyVersion: 7, cache: cache() });
      expect((await upstreamNamed(agent, 'catalog')).timeoutMs).toBe(6000);
      const pool = new Pool(`http://${agent.listeners['upstream:catalog']!}`);
      expect(await get(pool)).toBe(200);
      await pool.close();
      await agent.waitForLog((l) => l.msg === 'control plane unreachable: running on the policy in force');

      plane = await TestControlPlane.start({ token: TOKEN, port, snapshot: { version: 8, document: { upstreams: { catalog: { timeout: '5s' } } } } });
      const hello = await plane.waitFor((m) => m.kind === 'hello', 45_000);
      expect(hello.message.hello!.policyVersion).toBe(7);
      await plane.waitFor((m) => m.kind === 'ack' && m.ack!.version === 8, 10_000);
      expect((await upstreamNamed(agent, 'catalog')).timeoutMs).toBe(5000);
    } finally {
      await agent.stop();
      await plane.stop();
    }
  });

  it('sets a corrupt cache aside with a warning and runs on its YAML', async () => {
    const path = join(dir, 'corrupt.cache.json');
    await writeFile(path, '{"format":1,"version":3,"documentJson":"{}","createdAtMs":1,"sha256":"00"}');
    const agent = await startAgent(agentConfig('127.0.0.1:1', path, upstream.address));
    try {
      expect(agent.logs().find((l) => l.msg === 'policy cache ignored: starting from the config file alone')).toMatchObject({ cache: path, reason: expect.stringContaining('checksum') });
      expect((await upstreamNamed(agent, 'catalog')).timeoutMs).toBe(9000);
    } finally {
      await agent.stop();
    }
  });
});

describe('an agent whose control plane refuses its token', () => {
  it('logs the refusal and keeps serving from its YAML', async () => {
    const plane = await TestControlPlane.start({ token: 'another-token' });
    const agent = await startAgent(agentConfig(plane.address, join(dir, 'refused.cache.json'), upstream.address));
    try {
      const line = await agent.waitForLog((l) => l.msg === 'control plane refused this agent (check control.token)');
      expect(line.why).toMatch(/UNAUTHENTICATED/);
      const pool = new Pool(`http://${agent.listeners['upstream:catalog']!}`);
      expect(await get(pool)).toBe(200);
      await pool.close();
    } finally {
      await agent.stop();
      await plane.stop();
    }
  });
});

/** A CA and, signed by it, a certificate for 127.0.0.1 (server) and one for a client: PEM files in `folder`. */
async function certificates(folder: string): Promise<void> {
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: folder, stdio: 'ignore' });
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=meshlet test CA');
  await writeFile(join(folder, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const name of ['server', 'client']) {
    openssl('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', ...(name === 'server' ? ['-extfile', 'server.ext'] : []));
  }
}

describe('an agent reaching its control plane over mTLS', () => {
  it('connects with control.tls (its CA, its client certificate), and never without them', async () => {
    const folder = await mkdtemp(join(dir, 'tls-'));
    await certificates(folder);
    const pem = (name: string): Promise<Buffer> => readFile(join(folder, name));
    const plane = await TestControlPlane.start({
      token: TOKEN,
      snapshot: { version: 3, document: { upstreams: { catalog: { timeout: '4s' } } } },
      tls: { key: await pem('server.key'), cert: await pem('server.pem'), clientCa: await pem('ca.pem') },
    });
    const base = agentConfig(plane.address, join(folder, 'cache.json'), upstream.address) as { control: object };
    const agent = await startAgent({ ...base, control: { ...base.control, tls: { ca: join(folder, 'ca.pem'), cert: join(folder, 'client.pem'), key: join(folder, 'client.key') } } });
    const plain = await startAgent(agentConfig(plane.address, join(folder, 'plain-cache.json'), upstream.address));
    try {
      await plane.waitFor((m) => m.kind === 'ack' && m.ack!.version === 3);
      expect((await upstreamNamed(agent, 'catalog')).timeoutMs).toBe(4000);
      await plain.waitForLog((l) => l.msg === 'control plane unreachable: running on the policy in force');
      expect(plane.received.filter((r) => r.message.kind === 'hello')).toHaveLength(1);
      expect((await upstreamNamed(plain, 'catalog')).timeoutMs).toBe(9000);
    } finally {
      await agent.stop();
      await plain.stop();
      await plane.stop();
    }
  });
});
