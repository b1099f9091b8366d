// The operator commands as a user and a script run them (`node bin/meshlet.js …`), against a
// real gRPC server in the test process serving canned mesh state: what is printed, the JSON
// shapes, and the exit codes (0 done, 1 invalid, 2 conflict, 3 not acked by all, 4 unreachable).
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentReport } from '../../src/control/control-proto.ts';
import { FakeOperatorApi, type FakeAgent } from '../helpers/fake-operator-api.ts';
import { meshlet, run, RunningCommand, type Run } from '../helpers/meshlet-cli.ts';
import { until } from '../helpers/until.ts';

const token = 'operator-secret';
const stackFrame = /^\s+at .+[(:]\d+/m;

const goodPolicy = `
defaults:
  timeout: 2s
upstreams:
  payments:
    retry: { attempts: 3 }
    lb: { algorithm: least_request }
`;

const badPolicy = `
upstreams:
  payments:
    retry: { attempts: 50 }
    lb: { algorithm: fastest }
    timeuot: 2s
`;

const openBreakerReport: AgentReport = {
  atMs: 1_700_000_000_000,
  breakers: [
    { upstream: 'payments', endpoint: '127.0.0.1:9001', state: 'BREAKER_STATE_OPEN', reason: '5 consecutive failures (connect refused)', sinceMs: 1_700_000_000_000, node: '' },
    { upstream: 'payments', endpoint: '127.0.0.1:9002', state: 'BREAKER_STATE_CLOSED', reason: '', sinceMs: 0, node: '' },
    { upstream: 'search', endpoint: '', state: 'BREAKER_STATE_HALF_OPEN', reason: 'trial after 30s open', sinceMs: 1_700_000_000_500, node: '' },
  ],
  endpoints: [
    { upstream: 'payments', address: '127.0.0.1:9001', health: 'unhealthy', ejected: true, ejectionReason: '5 consecutive 5xx', requestsPerSecond: 0, errorPercent: 100, p50Ms: 0, p99Ms: 0, node: '', unreachable: false, unreachableReason: '' },
    { upstream: 'payments', address: '127.0.0.1:9003', health: 'healthy', ejected: false, ejectionReason: '', requestsPerSecond: 0, errorPercent: 100, p50Ms: 0, p99Ms: 0, node: '', unreachable: true, unreachableReason: 'unreachable: its connection was refused' },
    { upstream: 'payments', address: '127.0.0.1:9002', health: 'healthy', ejected: false, ejectionReason: '', requestsPerSecond: 12, errorPercent: 0, p50Ms: 1, p99Ms: 2, node: '', unreachable: false, unreachableReason: '' },
  ],
  upstreams: [],
};

/** A key and a certificate for 127.0.0.1, made by openssl in `folder`. */
async function selfSignedCertificate(folder: string): Promise<{ key: Buffer; cert: Buffer; certPath: string; keyPath: string }> {
  await mkdir(folder, { recursive: true });
  const keyPath = join(folder, 'key.pem');
  const certPath = join(folder, 'cert.pem');
  await new Promise<void>((resolve, reject) => {
    execFile('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=meshlet-control', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', certPath,
    ], { timeout: 20_000 }, (error) => (error ? reject(error) : resolve()));
  });
  return { key: await readFile(keyPath), cert: await readFile(certPath), certPath, keyPath };
}

describe('meshlet operator commands', () => {
  let dir: string;
  let goodPath: string;
  let badPath: string;
  let control: FakeOperatorApi | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlet-operator-'));
    goodPath = join(dir, 'policy.yaml');
    badPath = join(dir, 'bad.yaml');
    await writeFile(goodPath, goodPolicy);
    await writeFile(badPath, badPolicy);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await control?.stop();
    control = undefined;
  });

  async function start(agents: readonly FakeAgent[] = [{ node: 'node-a' }, { node: 'node-b' }, { node: 'node-c' }]): Promise<FakeOperatorApi> {
    control = await FakeOperatorApi.start({ token, agents });
    return control;
  }

  function cli(server: FakeOperatorApi, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
    return meshlet([...args, '--server', server.address], { ...process.env, MESHLET_TOKEN: token, ...env });
  }

  function expectClean(result: Run): void {
    expect(result.stderr).not.toMatch(stackFrame);
    expect(result.stdout).not.toMatch(stackFrame);
  }

  describe('apply', () => {
    it('applies compare-and-set on the version it read, prints the diff and one progress line per change, and exits 0 once every agent acked', async () => {
      const server = await start();
      server.storeBehindTheBack({ upstreams: { payments: { timeout: '1s' } } });
      const result = await cli(server, ['apply', '-f', goodPath]);
      expectClean(result);
      expect(result.code).toBe(0);
      const lines = result.stdout.trim().split('\n');
      expect(lines[0]).toBe('applied v2 (4 changes)');
      expect(lines.slice(1, 5)).toEqual([
        '  + defaults.timeout: 2s',
        '  + upstreams.payments.lb.algorithm: least_request',
        '  + upstreams.payments.retry.attempts: 3',
        '  - upstreams.payments.timeout: 1s',
      ]);
      const progress = lines.filter((line) => /agents acked v2/.test(line));
      expect(progress.at(-1)).toBe('3/3 agents acked v2');
      expect(new Set(progress).size).toBe(progress.length);
      const apply = server.calls.find((call) => call.method === 'ApplyPolicy')?.request as { expectedVersion: number; force: boolean; documentJson: string };
      expect(apply.expectedVersion).toBe(1);
      expect(apply.force).toBe(false);
      expect(JSON.parse(apply.documentJson)).toEqual({ defaults: { timeout: '2s' }, upstreams: { payments: { retry: { attempts: 3 }, lb: { algorithm: 'least_request' } } } });
      expect(server.currentVersion).toBe(2);
    });

    it('rewrites the progress line in place on a terminal (a pty from util-linux script)', async () => {
      const server = await start();
      const command = `node bin/meshlet.js apply -f ${goodPath} --server ${server.address}`;
      const result = await run('script', ['-qec', command, '/dev/null'], { ...process.env, MESHLET_TOKEN: token });
      expect(result.code).toBe(0);
      const progress = result.stdout.slice(result.stdout.indexOf('\r\x1b[2K'));
      const rewrites = progress.split('\r\x1b[2K').slice(1);
      expect(rewrites.length).toBeGreaterThanOrEqual(1);
      for (const text of rewrites.slice(0, -1)) expect(text).toMatch(/^[0-2]\/3 agents acked v1$/);
      expect(progress).toContain('\r\x1b[2K3/3 agents acked v1\r\n');
    });

    it('refuses an invalid document before contacting the control plane: exit 1, one line per field', async () => {
      const server = await start();
      const result = await cli(server, ['apply', '-f', badPath]);
      expectClean(result);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${badPath}: invalid policy document`);
      expect(result.stderr).toContain('upstreams.payments.retry.attempts: must be at most 10, got 50');
      expect(result.stderr).toContain('upstreams.payments.lb.algorithm: expected one of');
      expect(result.stderr).toContain('upstreams.payments.timeuot: unknown field');
      expect(server.calls).toEqual([]);
      expect(server.snapshots).toEqual([]);
    });

    it('says where a YAML syntax error is, and that a file is missing, with exit 1', async () => {
      const server = await start();
      const broken = join(dir, 'broken.yaml');
      await writeFile(broken, 'upstreams:\n  payments: { timeout: 2s\n');
      const syntax = await cli(server, ['apply', '-f', broken]);
      expect(syntax.code).toBe(1);
      expect(syntax.stderr).toMatch(/YAML syntax error at line \d+, column \d+/);
      const missing = await cli(server, ['apply', '-f', join(dir, 'nope.yaml')]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no such file');
      expectClean(missing);
    });

    it('exits 2 on a version conflict and stores nothing', async () => {
      const server = await start();
      server.storeBehindTheBack({ upstreams: {} });
      server.storeBehindTheBack({ upstreams: { payments: { timeout: '1s' } } });
      const result = await cli(server, ['apply', '-f', goodPath, '--expected-version', '1']);
      expectClean(result);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('meshlet: conflict: the policy is at version 2, not 1: read it again (meshlet get policy)');
      expect(server.currentVersion).toBe(2);
    });

    it('--force skips the compare-and-set', async () => {
      const server = await start();
      server.storeBehindTheBack({ upstreams: {} });
      const result = await cli(server, ['apply', '-f', goodPath, '--force', '-o', 'json']);
      expect(result.code).toBe(0);
      const apply = server.calls.find((call) => call.method === 'ApplyPolicy')?.request as { force: boolean };
      expect(apply.force).toBe(true);
      expect(server.calls.some((call) => call.method === 'GetPolicy')).toBe(false);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, version: 2, basedOn: null });
    });

    it('--dry-run prints the diff, stores nothing and waits for nobody', async () => {
      const server = await start();
      const result = await cli(server, ['apply', '-f', goodPath, '--dry-run']);
      expectClean(result);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('dry run, nothing stored: this would be v1 (3 changes)');
      expect(result.stdout).toContain('  + upstreams.payments.retry.attempts: 3\n');
      expect(result.stdout).not.toContain('agents acked');
      expect(server.snapshots).toEqual([]);
    });

    it('exits 3 and lists each NACK with the agent\'s errors, and agents shows them', async () => {
      const server = await start([
        { node: 'node-a' },
        { node: 'node-b', behaviour: 'nack', nackErrors: [{ path: 'upstreams.payments.lb.algorithm', message: 'ring_hash needs a hash key on this upstream' }] },
      ]);
      const result = await cli(server, ['apply', '-f', goodPath]);
      expectClean(result);
      expect(result.code).toBe(3);
      expect(result.stdout).toContain('1/2 agents acked v1, 1 nacked');
      expect(result.stdout).toContain('v1 refused (NACK) by 1 agent:\n  node-b: upstreams.payments.lb.algorithm: ring_hash needs a hash key on this upstream');

      const agents = await cli(server, ['agents']);
      expect(agents.code).toBe(0);
      const rows = agents.stdout.trim().split('\n');
      expect(rows[0]).toMatch(/^NODE\s+SOFTWARE\s+CONNECTED\s+ACKED\s+NACK\s+LAST SEEN$/);
      expect(rows[1]).toMatch(/^node-a\s+0\.1\.0\s+yes\s+v1\s+-\s+\d+s ago$/);
      expect(rows[2]).toMatch(/^node-b\s+0\.1\.0\s+yes\s+-\s+v1: upstreams\.payments\.lb\.algorithm: ring_hash needs a hash key on this upstream\s+\d+s ago$/);
      expect(rows[3]).toBe('2 agents, 2 connected, 1 on v1');

      const json = await cli(server, ['agents', '-o', 'json']);
      expect(json.code).toBe(0);
      const parsed = JSON.parse(json.stdout) as { currentVersion: number; agents: Record<string, unknown>[] };
      expect(parsed.currentVersion).toBe(1);
      expect(parsed.agents).toEqual([
        expect.objectContaining({ node: 'node-a', version: 1, nack: null, connected: true, softwareVersion: '0.1.0', onCurrent: true }),
        expect.objectContaining({ node: 'node-b', version: 0, nack: { version: 1, errors: [{ path: 'upstreams.payments.lb.algorithm', message: 'ring_hash needs a hash key on this upstream' }] }, onCurrent: false }),
      ]);
      expect(typeof parsed.agents[0]?.lastSeen).toBe('string');
    });

    it('exits 3 after --wait when an agent never answers, naming it, and waits for no disconnected agent', async () => {
      const server = await start([{ node: 'node-a' }, { node: 'node-b', behaviour: 'silent' }, { node: 'node-z', connected: false }]);
      const started = Date.now();
      const result = await cli(server, ['apply', '-f', goodPath, '--wait', '1s']);
      expectClean(result);
      expect(result.code).toBe(3);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(result.stdout).toContain('1/2 agents acked v1');
      expect(result.stdout).toContain('not acked within 1s by 1 agent: node-b');
      expect(result.stdout).toContain('not waited for, disconnected: node-z');
    });

    it('exits 3, not 4, when the control plane goes away after storing the version', async () => {
      const server = await start([{ node: 'node-a', behaviour: 'silent' }]);
      const applying = cli(server, ['apply', '-f', goodPath, '--wait', '20s', '-o', 'json']);
      await until(async () => server.currentVersion === 1 && server.calls.some((call) => call.method === 'ListAgents'), 15_000, 'the version stored and its rollout followed');
      await server.stop();
      control = undefined;
      const result = await applying;
      expectClean(result);
      expect(result.code).toBe(3);
      // UNAVAILABLE between polls, or a reset of the poll in flight: either names the server.
      expect(result.stderr).toMatch(/^meshlet: v1 is stored, but its rollout cannot be followed: .*control plane at 127\.0\.0\.1:\d+/m);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, version: 1, rollout: null });
    });

    it('-o json gives one summary a script can read, with the rollout', async () => {
      const server = await start([{ node: 'node-a' }, { node: 'node-b', behaviour: 'silent' }]);
      const result = await cli(server, ['apply', '-f', goodPath, '--wait', '500ms', '-o', 'json']);
      expect(result.code).toBe(3);
      expect(JSON.parse(result.stdout)).toEqual({
        ok: true, dryRun: false, version: 1, basedOn: 0, conflict: false, unchanged: false, errors: [],
        diff: expect.arrayContaining(['+ defaults.timeout: 2s']),
        rollout: { version: 1, connected: 2, acked: ['node-a'], nacked: [], pending: ['node-b'], disconnected: [], complete: false },
      });
      const invalid = await cli(server, ['apply', '-f', badPath, '-o', 'json']);
      expect(invalid.code).toBe(1);
      expect(JSON.parse(invalid.stdout)).toMatchObject({ ok: false, errors: expect.arrayContaining([{ path: 'upstreams.payments.timeuot', message: 'unknown field' }]) });
    });
  });

  describe('reaching the control plane', () => {
    it('exits 4 naming MESHLET_TOKEN when it is not set', async () => {
      const server = await start();
      const result = await meshlet(['status', '--server', server.address], { ...process.env, MESHLET_TOKEN: '' });
      expectClean(result);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain('MESHLET_TOKEN is not set');
      expect(server.calls).toEqual([]);
    });

    it('exits 4 when the token is refused, with the server\'s reason', async () => {
      const server = await start();
      const result = await cli(server, ['agents'], { MESHLET_TOKEN: 'wrong' });
      expectClean(result);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain(`the control plane at ${server.address} refused the token in MESHLET_TOKEN: the token is not an operator token`);
    });

    it('exits 4 when nothing listens, and takes the address from MESHLET_CONTROL', async () => {
      const server = await start();
      const address = server.address;
      await server.stop();
      control = undefined;
      const result = await meshlet(['apply', '-f', goodPath], { ...process.env, MESHLET_TOKEN: token, MESHLET_CONTROL: address });
      expectClean(result);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain(`cannot reach the control plane at ${address}`);
    });

    it('exits 4 at --timeout when the control plane accepts but never answers', async () => {
      const silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const address = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
      try {
        const started = Date.now();
        const result = await meshlet(['agents', '--server', address, '--timeout', '500ms'], { ...process.env, MESHLET_TOKEN: token });
        expectClean(result);
        expect(result.code).toBe(4);
        expect(result.stderr).toContain(`no answer from the control plane at ${address} within 500 ms (--timeout)`);
        expect(Date.now() - started).toBeLessThan(15_000);
      } finally {
        silent.close();
      }
    });

    it('speaks TLS with --tls-ca, and exits 4 when the certificate is not trusted', async () => {
      const certificate = await selfSignedCertificate(dir);
      const server = await FakeOperatorApi.start({ token, agents: [{ node: 'node-a' }], tls: certificate });
      control = server;
      const trusted = await cli(server, ['agents', '-o', 'json', '--tls-ca', certificate.certPath]);
      expect(trusted.code).toBe(0);
      expect(JSON.parse(trusted.stdout).agents).toEqual([expect.objectContaining({ node: 'node-a' })]);
      const plain = await cli(server, ['agents', '--timeout', '2s']);
      expect(plain.code).toBe(4);
      const other = await selfSignedCertificate(join(dir, 'other'));
      const untrusted = await cli(server, ['agents', '--tls-ca', other.certPath, '--timeout', '2s']);
      expectClean(untrusted);
      expect(untrusted.code).toBe(4);
      expect(untrusted.stderr).toContain(`control plane at ${server.address}`);
    });

    it('presents a client certificate with --tls-cert and --tls-key where the control plane requires mTLS', async () => {
      const serverCertificate = await selfSignedCertificate(join(dir, 'mtls-server'));
      const clientCertificate = await selfSignedCertificate(join(dir, 'mtls-client'));
      const server = await FakeOperatorApi.start({ token, agents: [{ node: 'node-a' }], tls: { ...serverCertificate, clientCa: clientCertificate.cert } });
      control = server;
      const withCertificate = await cli(server, ['status', '--tls-ca', serverCertificate.certPath, '--tls-cert', clientCertificate.certPath, '--tls-key', clientCertificate.keyPath]);
      expect(withCertificate.code).toBe(0);
      expect(withCertificate.stdout).toMatch(/^agents\s+1 \(1 connected/m);
      const without = await cli(server, ['status', '--tls-ca', serverCertificate.certPath, '--timeout', '2s']);
      expectClean(without);
      expect(without.code).toBe(4);
      const halfPair = await cli(server, ['status', '--tls-ca', serverCertificate.certPath, '--tls-cert', clientCertificate.certPath]);
      expect(halfPair.code).toBe(1);
      expect(halfPair.stderr).toContain('--tls-cert and --tls-key go together');
    });

    it('documents the exit codes in --help', async () => {
      const result = await meshlet(['apply', '--help']);
      expect(result.code).toBe(0);
      for (const line of ['0  done', '1  invalid', '2  conflict', '3  stored, but not every connected agent', '4  the control plane cannot be reached']) {
        expect(result.stdout).toContain(line);
      }
    });
  });

  describe('get policy and rollback', () => {
    it('prints the current policy as YAML that apply takes back, or as JSON with its history fields', async () => {
      const server = await start();
      const applied = await cli(server, ['apply', '-f', goodPath]);
      expect(applied.code).toBe(0);
      const yaml = await cli(server, ['get', 'policy']);
      expect(yaml.code).toBe(0);
      expect(yaml.stdout).toMatch(/^# policy v1, stored \d{4}-\d\d-\d\dT[^,]+, by \S+@\S+\n/);
      expect(parse(yaml.stdout)).toEqual({ defaults: { timeout: '2s' }, upstreams: { payments: { retry: { attempts: 3 }, lb: { algorithm: 'least_request' } } } });
      const again = join(dir, 'again.yaml');
      await writeFile(again, yaml.stdout);
      const unchanged = await cli(server, ['apply', '-f', again]);
      expect(unchanged.code).toBe(0);
      expect(unchanged.stdout).toBe('unchanged: the document is v1\'s; nothing stored\n3/3 agents acked v1\n');
      expect(server.currentVersion).toBe(1);

      const json = await cli(server, ['get', 'policy', '-o', 'json']);
      expect(JSON.parse(json.stdout)).toMatchObject({ version: 1, rolledBackFrom: null, document: { defaults: { timeout: '2s' } } });
      expect(JSON.parse(json.stdout).createdAt).toMatch(/^\d{4}-/);
    });

    it('reads an earlier version with --version, and exits 1 for one that does not exist', async () => {
      const server = await start();
      server.storeBehindTheBack({ upstreams: { payments: { timeout: '1s' } } });
      server.storeBehindTheBack({ upstreams: { payments: { timeout: '3s' } } });
      const first = await cli(server, ['get', 'policy', '--version', '1', '-o', 'json']);
      expect(JSON.parse(first.stdout)).toMatchObject({ version: 1, document: { upstreams: { payments: { timeout: '1s' } } } });
      const missing = await cli(server, ['get', 'policy', '--version', '9']);
      expectClean(missing);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('meshlet: there is no policy version 9');
    });

    it('says when no policy was applied yet', async () => {
      const server = await start();
      const result = await cli(server, ['get', 'policy']);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('# no policy applied yet (version 0)\nupstreams: {}\n');
    });

    it('rolls back to an earlier version as a new one, follows it out, and --dry-run only shows the diff', async () => {
      const server = await start();
      server.storeBehindTheBack({ upstreams: { payments: { timeout: '1s' } } });
      server.storeBehindTheBack({ upstreams: { payments: { timeout: '3s' } } });
      const dry = await cli(server, ['rollback', '--to', '1', '--dry-run']);
      expectClean(dry);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain('dry run, nothing stored: this would be v3 (1 change)\n  ~ upstreams.payments.timeout: 3s → 1s');
      expect(server.currentVersion).toBe(2);

      const result = await cli(server, ['rollback', '--to', '1']);
      expectClean(result);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('applied v3 (1 change)');
      expect(result.stdout).toContain('3/3 agents acked v3');
      expect(server.snapshots.at(-1)).toMatchObject({ version: 3, rolledBackFrom: 1, documentJson: server.snapshots[0]?.documentJson });
      expect((server.calls.find((call) => call.method === 'Rollback')?.request as { expectedVersion: number }).expectedVersion).toBe(2);

      const missing = await cli(server, ['rollback', '--to', '7']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('meshlet: refused by the control plane:\nto_version: there is no version 7');
    });
  });

  describe('status and breakers', () => {
    const meshAgents: FakeAgent[] = [
      { node: 'node-a', version: 0, lastReport: openBreakerReport },
      { node: 'node-b', version: 0 },
      { node: 'node-c', connected: false },
    ];

    it('status shows version, agents, open breakers, ejected and unreachable endpoints; -o json the same in fields', async () => {
      const server = await start(meshAgents);
      const text = await cli(server, ['status']);
      expectClean(text);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^policy\s+none applied yet\nagents\s+3 \(2 connected, 3 on v0\)\nbreakers\s+2 open or half-open\nejected\s+1 endpoint\nunreachable\s+1 endpoint\n/);
      expect(text.stdout).toMatch(/node-a\s+payments\s+127\.0\.0\.1:9001\s+open\s+\S+ ago\s+5 consecutive failures \(connect refused\)/);
      expect(text.stdout).toMatch(/node-a\s+search\s+\(all\)\s+half-open\s+\S+ ago\s+trial after 30s open/);
      expect(text.stdout).toMatch(/EJECTED ENDPOINT.*\n.*node-a\s+payments\s+127\.0\.0\.1:9001\s+unhealthy\s+5 consecutive 5xx\n/);
      expect(text.stdout).toMatch(/UNREACHABLE ENDPOINT.*\n.*node-a\s+payments\s+127\.0\.0\.1:9003\s+healthy\s+unreachable: its connection was refused\n$/);
      expect(text.stdout).not.toContain('127.0.0.1:9002');
      expect(text.stdout).not.toContain('\x1b[');

      const json = await cli(server, ['status', '-o', 'json']);
      expect(JSON.parse(json.stdout)).toEqual({
        currentVersion: 0, agents: 3, agentsConnected: 2, agentsOnCurrent: 3,
        openBreakers: [
          { node: 'node-a', upstream: 'payments', endpoint: '127.0.0.1:9001', state: 'open', reason: '5 consecutive failures (connect refused)', sinceMs: 1_700_000_000_000, since: '2023-11-14T22:13:20.000Z' },
          { node: 'node-a', upstream: 'search', endpoint: null, state: 'half-open', reason: 'trial after 30s open', sinceMs: 1_700_000_000_500, since: '2023-11-14T22:13:20.500Z' },
        ],
        ejectedEndpoints: [{ node: 'node-a', upstream: 'payments', address: '127.0.0.1:9001', health: 'unhealthy', ejected: true, ejectionReason: '5 consecutive 5xx', unreachable: false, unreachableReason: '' }],
        unreachableEndpoints: [{ node: 'node-a', upstream: 'payments', address: '127.0.0.1:9003', health: 'healthy', ejected: false, ejectionReason: '', unreachable: true, unreachableReason: 'unreachable: its connection was refused' }],
      });
    });

    it('breakers lists the open and half-open ones with their reasons', async () => {
      const server = await start(meshAgents);
      const text = await cli(server, ['breakers']);
      expect(text.code).toBe(0);
      const rows = text.stdout.trim().split('\n');
      expect(rows).toHaveLength(3);
      expect(rows[0]).toMatch(/^NODE\s+UPSTREAM\s+ENDPOINT\s+STATE\s+SINCE\s+REASON$/);
      expect(rows[1]).toMatch(/^node-a\s+payments\s+127\.0\.0\.1:9001\s+open\s+\S+ ago\s+5 consecutive failures \(connect refused\)$/);
      const json = await cli(server, ['breakers', '-o', 'json']);
      expect(JSON.parse(json.stdout).breakers).toEqual([
        expect.objectContaining({ node: 'node-a', upstream: 'payments', endpoint: '127.0.0.1:9001', state: 'open', agentConnected: true }),
        expect.objectContaining({ node: 'node-a', upstream: 'search', endpoint: null, state: 'half-open' }),
      ]);
      const none = await start([{ node: 'node-b' }]);
      expect((await cli(none, ['breakers'])).stdout).toBe('no open or half-open breakers\n');
      await none.stop();
    });

    it('breakers --watch prints the open ones, then each change as a line, and exits 0 on Ctrl-C', async () => {
      const server = await start(meshAgents);
      const watch = new RunningCommand(['breakers', '--watch', '--server', server.address], { ...process.env, MESHLET_TOKEN: token });
      try {
        await until(async () => watch.stdout.includes('search (all endpoints)'), 15_000, 'the current breakers printed');
        expect(server.watcherCount()).toBe(1);
        server.emit({
          atMs: 1_700_000_100_000, node: 'node-b', kind: 'breaker',
          breaker: { upstream: 'payments', endpoint: '127.0.0.1:9003', state: 'BREAKER_STATE_OPEN', reason: '50% errors over 20 calls', sinceMs: 1_700_000_100_000, node: '' },
        });
        server.emit({
          atMs: 1_700_000_101_000, node: 'node-b', kind: 'agent',
          agent: { node: 'node-b', softwareVersion: '0.1.0', connected: true, version: 0, nack: null, lastSeenMs: 0, lastReport: null },
        });
        server.emit({
          atMs: 1_700_000_102_000, node: 'node-b', kind: 'breaker',
          breaker: { upstream: 'payments', endpoint: '127.0.0.1:9003', state: 'BREAKER_STATE_CLOSED', reason: 'trial call succeeded', sinceMs: 1_700_000_102_000, node: '' },
        });
        await until(async () => watch.stdout.includes('trial call succeeded'), 15_000, 'the changes printed');
        watch.signal('SIGINT');
        expect(await watch.exited).toBe(0);
        expect(watch.stdout.trim().split('\n')).toEqual([
          '2023-11-14T22:13:20.000Z  node-a  payments 127.0.0.1:9001  open  5 consecutive failures (connect refused)',
          '2023-11-14T22:13:20.500Z  node-a  search (all endpoints)  half-open  trial after 30s open',
          '2023-11-14T22:15:00.000Z  node-b  payments 127.0.0.1:9003  open  50% errors over 20 calls',
          '2023-11-14T22:15:02.000Z  node-b  payments 127.0.0.1:9003  closed  trial call succeeded',
        ]);
        expect(watch.stderr).toBe('');
      } finally {
        watch.signal('SIGKILL');
      }
    });

    it('breakers --watch dropped for falling behind watches again, re-reads the breakers, and prints what changed meanwhile', async () => {
      const server = await start([{ node: 'node-b' }]);
      const watch = new RunningCommand(['breakers', '--watch', '--server', server.address], { ...process.env, MESHLET_TOKEN: token });
      const listings = () => server.calls.filter((call) => call.method === 'ListAgents').length;
      try {
        await until(async () => server.watcherCount() === 1 && listings() === 1, 15_000, 'the watch open and the breakers read');
        server.dropWatchers(grpc.status.RESOURCE_EXHAUSTED, 'this watcher fell 1000 events behind; watch again');
        await until(async () => server.watcherCount() === 1 && listings() === 2, 15_000, 'the watch open again and the breakers read again');
        server.emit({
          atMs: 1_700_000_100_000, node: 'node-b', kind: 'breaker',
          breaker: { upstream: 'payments', endpoint: '', state: 'BREAKER_STATE_OPEN', reason: 'every endpoint is down', sinceMs: 1_700_000_100_000, node: '' },
        });
        await until(async () => watch.stdout.includes('every endpoint is down'), 15_000, 'the change printed');
        expect(watch.stderr).toMatch(/^meshlet: lost the watch stream: .*fell 1000 events behind.*\nmeshlet: watching \S+ again/);
        watch.signal('SIGINT');
        expect(await watch.exited).toBe(0);
      } finally {
        watch.signal('SIGKILL');
      }
    });

    it('breakers --watch -o json prints one JSON object per line, and exits 4 when the control plane stays away past --reconnect-for', async () => {
      const server = await start([{ node: 'node-b' }]);
      const watch = new RunningCommand(['breakers', '--watch', '-o', 'json', '--reconnect-for', '1s', '--server', server.address], { ...process.env, MESHLET_TOKEN: token });
      try {
        await until(async () => server.watcherCount() === 1, 15_000, 'the watch open');
        await until(async () => server.calls.some((call) => call.method === 'ListAgents'), 15_000, 'the current breakers read');
        server.emit({
          atMs: 1_700_000_100_000, node: 'node-b', kind: 'breaker',
          breaker: { upstream: 'payments', endpoint: '', state: 'BREAKER_STATE_OPEN', reason: 'every endpoint is down', sinceMs: 1_700_000_100_000, node: '' },
        });
        await until(async () => watch.stdout.includes('every endpoint is down'), 15_000, 'the change printed');
        expect(JSON.parse(watch.stdout.trim())).toEqual({
          atMs: 1_700_000_100_000, at: '2023-11-14T22:15:00.000Z', node: 'node-b', upstream: 'payments', endpoint: null,
          state: 'open', reason: 'every endpoint is down', sinceMs: 1_700_000_100_000, since: '2023-11-14T22:15:00.000Z',
        });
        await server.stop();
        control = undefined;
        expect(await watch.exited).toBe(4);
        expect(watch.stderr).toContain('meshlet: lost the watch stream');
        expect(watch.stderr).toContain(`no watch stream from the control plane at ${server.address} for`);
      } finally {
        watch.signal('SIGKILL');
      }
    });
  });
});
