// `meshlet control` as a real process on 127.0.0.1, driven by real grpc-js clients: applies
// reach connected agents, compare-and-set, dry runs, rollback, ACK/NACK in ListAgents, breaker
// reports on WatchMesh, health and reflection, the admin listener.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlClient, MeshEvent } from '../../src/control/control-proto.ts';
import { bearerMetadata } from '../../src/control/control-proto.ts';
import { adminMetric, apply, call, controlClient, OPERATOR_TOKEN, RawAgent, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { until } from '../helpers/until.ts';

let control: RunningControl;
let client: ControlClient;

beforeAll(async () => {
  control = await startControl();
  client = controlClient(control.address);
});

afterAll(async () => {
  client?.close();
  await control?.stop('SIGTERM', true);
});

const payments = (timeout: string) => ({ upstreams: { payments: { timeout } } });

describe('meshlet control', () => {
  it('pushes an applied policy to a connected agent at once, and the current one to an agent that connects later', async () => {
    const early = new RawAgent(client).hello('early');
    await until(async () => (await call(client, 'ListAgents', {})).agents.some((a) => a.node === 'early' && a.connected), 10_000, 'early agent listed');
    const applied = await apply(client, payments('2s'), 0);
    expect(applied).toMatchObject({ ok: true, version: 1, errors: [], diff: ['+ upstreams.payments.timeout: 2s'] });
    const pushed = await early.snapshot(1);
    expect(JSON.parse(pushed.documentJson)).toEqual(payments('2s'));
    expect(pushed.author).toBe('test');

    const late = new RawAgent(client).hello('late');
    expect((await late.snapshot(1)).version).toBe(1);
    early.close();
    late.close();
  });

  it('refuses an apply based on a stale version, naming the conflict, and stores nothing', async () => {
    const stale = await apply(client, payments('5s'), 0);
    expect(stale.ok).toBe(false);
    expect(stale.errors).toEqual([{ path: 'expected_version', message: expect.stringContaining('the policy is at version 1, not 0') }]);
    expect((await call(client, 'GetPolicy', { version: 0 })).version).toBe(1);
  });

  it('refuses an invalid document with field errors and pushes nothing', async () => {
    const agent = new RawAgent(client).hello('watching-invalid');
    await agent.snapshot(1);
    const invalid = await apply(client, { upstreams: { payments: { lb: { algorithm: 'fastest' }, retry: { attempts: 0 } } } }, 1);
    expect(invalid.ok).toBe(false);
    expect(invalid.errors.map((e) => e.path)).toEqual(['upstreams.payments.lb.algorithm', 'upstreams.payments.retry.attempts']);
    const notJson = await call(client, 'ApplyPolicy', { documentJson: '{"upstreams":', expectedVersion: 1 });
    expect(notJson.errors[0]!.message).toMatch(/not JSON/);
    expect((await call(client, 'GetPolicy', { version: 0 })).version).toBe(1);
    expect(agent.snapshots.map((s) => s.version)).toEqual([1]);
    agent.close();
  });

  it('a dry run returns the diff and the version it would get, and stores nothing', async () => {
    const dry = await apply(client, { defaults: { lb: { algorithm: 'maglev' } }, upstreams: { payments: { timeout: '3s' } } }, 1, true);
    expect(dry).toMatchObject({ ok: true, version: 2, unchanged: false });
    expect(dry.diff).toEqual(['+ defaults.lb.algorithm: maglev', '~ upstreams.payments.timeout: 2s → 3s']);
    expect((await call(client, 'GetPolicy', { version: 0 })).version).toBe(1);
    expect((await call(client, 'ListPolicyVersions', {})).versions.map((v) => v.version)).toEqual([1]);
  });

  it('an apply equal to the current policy is unchanged: no new version', async () => {
    const same = await apply(client, payments('2s'), 1);
    expect(same).toMatchObject({ ok: true, version: 1, unchanged: true, diff: [] });
  });

  it('rolls back to an earlier version as a new version, with compare-and-set', async () => {
    expect((await apply(client, payments('4s'), 1)).version).toBe(2);
    const agent = new RawAgent(client).hello('rollback-agent');
    await agent.snapshot(2);
    const staleRollback = await call(client, 'Rollback', { toVersion: 1, expectedVersion: 1 });
    expect(staleRollback.errors[0]!.path).toBe('expected_version');
    const missing = await call(client, 'Rollback', { toVersion: 99, expectedVersion: 2 });
    expect(missing.errors[0]).toMatchObject({ path: 'to_version' });
    const rolled = await call(client, 'Rollback', { toVersion: 1, expectedVersion: 2, author: 'oncall' });
    expect(rolled).toMatchObject({ ok: true, version: 3, diff: ['~ upstreams.payments.timeout: 4s → 2s'] });
    const snapshot = await agent.snapshot(3);
    expect(snapshot).toMatchObject({ version: 3, rolledBackFrom: 1, author: 'oncall' });
    expect(JSON.parse(snapshot.documentJson)).toEqual(payments('2s'));
    const history = await call(client, 'ListPolicyVersions', { pageSize: 2 });
    expect(history.versions.map((v) => [v.version, v.rolledBackFrom])).toEqual([[3, 1], [2, 0]]);
    expect(history.nextBeforeVersion).toBe(2);
    expect((await call(client, 'GetPolicy', { version: 2 })).documentJson).toBe(JSON.stringify(payments('4s')));
    await expect(call(client, 'GetPolicy', { version: 42 })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    agent.close();
  });

  it('ListAgents shows an agent’s ack, and its nack with the errors', async () => {
    const good = new RawAgent(client).hello('acking');
    const bad = new RawAgent(client).hello('nacking');
    const v = (await good.snapshot(3)).version;
    await bad.snapshot(v);
    good.send({ ack: { version: v } });
    bad.send({ nack: { version: v, errors: [{ path: 'upstreams.payments.timeout', message: 'must be below the listener timeout' }] } });
    await until(async () => {
      const agents = (await call(client, 'ListAgents', {})).agents;
      return agents.find((a) => a.node === 'acking')?.version === v && agents.find((a) => a.node === 'nacking')?.nack !== null;
    }, 10_000, 'ack and nack listed');
    const { agents, currentVersion } = await call(client, 'ListAgents', {});
    expect(currentVersion).toBe(v);
    expect(agents.find((a) => a.node === 'acking')).toMatchObject({ connected: true, version: v, nack: null, softwareVersion: 'test' });
    expect(agents.find((a) => a.node === 'nacking')).toMatchObject({
      connected: true, version: 0, nack: { version: v, errors: [{ path: 'upstreams.payments.timeout', message: 'must be below the listener timeout' }] },
    });
    const status = await call(client, 'GetMeshStatus', {});
    expect(status.currentVersion).toBe(v);
    expect(status.agentsOnCurrent).toBeGreaterThanOrEqual(1);
    good.close();
    bad.close();
    await until(async () => !(await call(client, 'ListAgents', {})).agents.find((a) => a.node === 'acking')!.connected, 10_000, 'disconnect listed');
  });

  it('WatchMesh sees a breaker report, and GetMeshStatus lists the open breaker with its node', async () => {
    const events: MeshEvent[] = [];
    const watch = client.WatchMesh({}, bearerMetadata(OPERATOR_TOKEN));
    watch.on('data', (e: MeshEvent) => events.push(e));
    watch.on('error', () => undefined);
    await new Promise((resolve) => watch.once('metadata', resolve));
    const agent = new RawAgent(client).hello('breaking');
    const breaker = { upstream: 'payments', endpoint: '10.0.0.7:8080', state: 'BREAKER_STATE_OPEN' as const, reason: '5 of the last 10 calls failed (50 % ≥ 50 %)', sinceMs: 1 };
    agent.send({ report: { atMs: 1, breakers: [breaker], endpoints: [{ upstream: 'payments', address: '10.0.0.7:8080', health: 'healthy', ejected: true, ejectionReason: '5 consecutive 5xx' }] } });
    await until(async () => events.some((e) => e.kind === 'breaker'), 10_000, 'breaker event');
    expect(events.find((e) => e.kind === 'breaker')).toMatchObject({ node: 'breaking', kind: 'breaker', breaker: { ...breaker, node: 'breaking' } });
    expect(events.find((e) => e.kind === 'endpoint')).toMatchObject({ node: 'breaking', endpoint: { ejected: true, ejectionReason: '5 consecutive 5xx' } });
    expect(events.find((e) => e.kind === 'agent' && e.node === 'breaking')).toMatchObject({ agent: { connected: true } });
    const status = await call(client, 'GetMeshStatus', {});
    expect(status.openBreakers).toEqual([{ ...breaker, node: 'breaking' }]);
    expect(status.ejectedEndpoints.map((e) => [e.node, e.address])).toEqual([['breaking', '10.0.0.7:8080']]);
    // The dashboard on the admin listener reads the same reports.
    const stats = await (await fetch(`http://${control.admin}/api/v1/mesh/stats`)).json() as { nodes: { node: string }[] };
    expect(stats.nodes.map((n) => n.node)).toContain('breaking');
    expect((await fetch(`http://${control.admin}/dashboard`)).status).toBe(200);

    // The same state again is no news; the breaker closing is.
    agent.send({ report: { atMs: 2, breakers: [breaker] } });
    agent.send({ report: { atMs: 3, breakers: [{ ...breaker, state: 'BREAKER_STATE_CLOSED', reason: 'probe succeeded' }] } });
    await until(async () => events.filter((e) => e.kind === 'breaker').length === 2, 10_000, 'close event');
    expect(events.filter((e) => e.kind === 'breaker').map((e) => e.kind === 'breaker' && e.breaker.state)).toEqual(['BREAKER_STATE_OPEN', 'BREAKER_STATE_CLOSED']);
    watch.cancel();
    agent.close();
  });

  it('a second Connect of the same node replaces the first', async () => {
    const first = new RawAgent(client).hello('twice');
    await first.snapshot(1);
    const second = new RawAgent(client).hello('twice');
    await second.snapshot(1);
    expect(await first.status).toMatchObject({ code: grpc.status.ABORTED, details: expect.stringContaining('replaced') });
    const agents = (await call(client, 'ListAgents', {})).agents.filter((a) => a.node === 'twice');
    expect(agents).toMatchObject([{ connected: true }]);
    second.close();
  });

  it('serves grpc.health.v1 and reflection without a token: a client lists the services and gets SERVING', async () => {
    const definition = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: ['proto'], enums: String });
    const Health = (grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health;
    const health = new Health(control.address, grpc.credentials.createInsecure());
    const check = (service: string) => new Promise<{ status: string }>((resolve, reject) => {
      (health as unknown as { Check: (r: object, cb: (e: Error | null, v: { status: string }) => void) => void }).Check({ service }, (e, v) => (e ? reject(e) : resolve(v)));
    });
    expect((await check('')).status).toBe('SERVING');
    expect((await check('meshlet.v1.Control')).status).toBe('SERVING');
    health.close();

    const services = await listServicesByReflection(control.address);
    expect(services.sort()).toEqual(['grpc.health.v1.Health', 'meshlet.v1.Control']);
  });

  it('the admin listener answers /healthz, /readyz and /metrics with applies, pushes, acks and nacks', async () => {
    expect((await fetch(`http://${control.admin}/healthz`)).status).toBe(200);
    expect((await fetch(`http://${control.admin}/readyz`)).status).toBe(200);
    expect(await adminMetric(control.admin, 'meshlet_control_applies_total{result="applied"}')).toBe(3);
    expect(await adminMetric(control.admin, 'meshlet_control_applies_total{result="invalid"}')).toBeGreaterThanOrEqual(2);
    expect(await adminMetric(control.admin, 'meshlet_control_applies_total{result="conflict"}')).toBeGreaterThanOrEqual(2);
    expect(await adminMetric(control.admin, 'meshlet_control_applies_total{result="dry_run"}')).toBe(1);
    expect(await adminMetric(control.admin, 'meshlet_control_pushes_total')).toBeGreaterThan(5);
    expect(await adminMetric(control.admin, 'meshlet_control_acks_total')).toBeGreaterThanOrEqual(1);
    expect(await adminMetric(control.admin, 'meshlet_control_nacks_total')).toBe(1);
    expect(await adminMetric(control.admin, 'meshlet_control_policy_version')).toBe(3);
    expect(await adminMetric(control.admin, 'meshlet_control_agents_connected')).toBeDefined();
    expect((await fetch(`http://${control.admin}/nowhere`)).status).toBe(404);
  });
});

/** grpc.reflection.v1's list_services, read with a loader of the reflection proto. */
async function listServicesByReflection(address: string): Promise<string[]> {
  const protoPath = new URL('../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto', import.meta.url).pathname;
  const definition = protoLoader.loadSync(protoPath, { keepCase: true });
  const Reflection = (grpc.loadPackageDefinition(definition) as unknown as { grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } } }).grpc.reflection.v1.ServerReflection;
  const reflection = new Reflection(address, grpc.credentials.createInsecure());
  const stream = (reflection as unknown as { ServerReflectionInfo: () => grpc.ClientDuplexStream<object, { list_services_response?: { service: { name: string }[] } }> }).ServerReflectionInfo();
  const reply = await new Promise<{ list_services_response?: { service: { name: string }[] } }>((resolve, reject) => {
    stream.once('data', resolve);
    stream.once('error', reject);
    stream.write({ list_services: '' });
  });
  stream.end();
  reflection.close();
  return reply.list_services_response?.service.map((s) => s.name) ?? [];
}
