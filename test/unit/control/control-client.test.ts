// The control client's reconnects (full jitter, base 500 ms, cap 30 s, reset once a stream is
// up) and the runtime's reports (at once on a breaker transition or ejection, at most one per
// 100 ms), against real sockets on 127.0.0.1 with the timers on a FakeClock.
import * as grpc from '@grpc/grpc-js';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { ControlRuntime } from '../../../src/agent/control-runtime.ts';
import { ControlClient, HINT_FOLLOW_MS } from '../../../src/control/control-client.ts';
import { controlProto } from '../../../src/control/control-proto.ts';
import { LEADER_METADATA } from '../../../src/control/leadership.ts';
import { DecisionLog } from '../../../src/observability/decisions.ts';
import { MeshletMetrics } from '../../../src/observability/metrics.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { TestControlPlane } from '../../helpers/fake-control-plane.ts';

const hello = () => ({ node: 'n1', version: '0.1.0', services: [], upstreams: [], policyVersion: 0 });

/** A logger that keeps what was logged at warn and above. */
function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'warn', name: 'test' });
  const keep = (fields: Record<string, unknown>, msg: string) => lines.push({ ...fields, msg });
  return { lines, logger: Object.assign(Object.create(logger) as typeof logger, { warn: keep, error: keep, info: () => undefined, debug: () => undefined }) };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what}: not within 5 s`);
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('control client reconnects', () => {
  it('backs off with full jitter from 500 ms, doubling up to 30 s, on a fresh channel each time', async () => {
    const clock = new FakeClock();
    const { lines, logger } = recordingLogger();
    const client = new ControlClient({
      addresses: [`127.0.0.1:${await closedPort()}`], credentials: grpc.credentials.createInsecure(), clock, random: () => 0.999, logger,
      hello, apply: () => Promise.resolve({ ok: true }),
    });
    cleanups.push(() => client.stop());
    client.start();
    const waits: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      await waitFor(() => lines.length > attempt, `failure ${attempt + 1}`);
      const wait = lines[attempt]!.retryInMs as number;
      waits.push(wait);
      clock.advance(wait);
    }
    expect(waits).toEqual([500, 999, 1998, 3996, 7992, 15984, 29970, 29970]);
    expect(lines[0]).toMatchObject({ msg: 'control plane unreachable: running on the policy in force', why: expect.stringContaining('UNAVAILABLE') });
  });

  it('starts again from 500 ms once a stream was up', async () => {
    const port = await closedPort();
    const clock = new FakeClock();
    const { lines, logger } = recordingLogger();
    const client = new ControlClient({
      addresses: [`127.0.0.1:${port}`], credentials: grpc.credentials.createInsecure(), clock, random: () => 0.5, logger,
      hello, apply: () => Promise.resolve({ ok: true }),
    });
    cleanups.push(() => client.stop());
    client.start();
    for (let attempt = 0; attempt < 2; attempt++) {
      await waitFor(() => lines.length > attempt, `failure ${attempt + 1}`);
      if (attempt === 1) break;
      clock.advance(lines[attempt]!.retryInMs as number);
    }
    expect(lines.map((l) => l.retryInMs)).toEqual([250, 500]);
    const plane = await TestControlPlane.start({ port });
    cleanups.push(() => plane.kill());
    clock.advance(500);
    await plane.waitFor((m) => m.kind === 'ack');
    plane.kill();
    await waitFor(() => lines.length === 3, 'stream lost');
    // Without the reset this wait would be 0.5 × 2000 ms.
    expect(lines[2]).toMatchObject({ msg: 'control plane stream lost: running on the policy in force', retryInMs: 250 });
  });
});

/** A replica that answers every Connect as a follower: UNAVAILABLE with trailer meshlet-leader. */
async function followerReplica(leader: string): Promise<{ address: string; attempts(): number }> {
  const server = new grpc.Server();
  let attempts = 0;
  server.addService(controlProto().service, {
    Connect: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      attempts++;
      const trailers = new grpc.Metadata();
      trailers.set(LEADER_METADATA, leader);
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'a follower', metadata: trailers });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  cleanups.push(() => server.forceShutdown());
  return { address: `127.0.0.1:${port}`, attempts: () => attempts };
}

describe('control client with several replicas', () => {
  it('goes straight to the leader a follower names, within 100 ms, even one not in its list', async () => {
    const leader = await TestControlPlane.start({ snapshot: { version: 2, document: {} } });
    cleanups.push(() => leader.kill());
    const follower = await followerReplica(leader.address);
    const clock = new FakeClock();
    const { lines, logger } = recordingLogger();
    const client = new ControlClient({
      addresses: [follower.address], credentials: grpc.credentials.createInsecure(), clock, random: () => 0.5, logger,
      hello, apply: () => Promise.resolve({ ok: true }),
    });
    cleanups.push(() => client.stop());
    client.start();
    await waitFor(() => lines.length === 1, 'the follower refused');
    expect(lines[0]).toMatchObject({ control: follower.address, leader: leader.address, retryInMs: HINT_FOLLOW_MS / 2 });
    clock.advance(HINT_FOLLOW_MS / 2);
    await leader.waitFor((m) => m.kind === 'ack');
    expect(follower.attempts()).toBe(1);
  });

  it('tries the replicas in turn, and a named leader restarts the backoff from its base', async () => {
    const dead = `127.0.0.1:${await closedPort()}`;
    const follower = await followerReplica(dead);
    const clock = new FakeClock();
    const { lines, logger } = recordingLogger();
    const client = new ControlClient({
      addresses: [dead, follower.address], credentials: grpc.credentials.createInsecure(), clock, random: () => 0.5, logger,
      hello, apply: () => Promise.resolve({ ok: true }),
    });
    cleanups.push(() => client.stop());
    client.start();
    for (let attempt = 0; attempt < 6; attempt++) {
      await waitFor(() => lines.length > attempt, `attempt ${attempt + 1}`);
      clock.advance(lines[attempt]!.retryInMs as number);
    }
    // dead → follower (names dead) → dead → follower …: the dead leader's failures wait 250 ms, never longer.
    expect(lines.map((l) => [l.control, l.retryInMs])).toEqual([
      [dead, 250], [follower.address, 50], [dead, 250], [follower.address, 50], [dead, 250], [follower.address, 50],
    ]);
  });
});

describe('control client with a control plane that has no policy yet', () => {
  it('counts the stream as up once its channel connects: it reports, and stays connected past the connect timeout', async () => {
    const plane = await TestControlPlane.start({ quietWithoutPolicy: true });
    cleanups.push(() => plane.kill());
    const clock = new FakeClock();
    const { lines, logger } = recordingLogger();
    const client = new ControlClient({
      addresses: [plane.address], credentials: grpc.credentials.createInsecure(), clock, random: () => 0, logger,
      hello, apply: () => Promise.resolve({ ok: true }),
    });
    cleanups.push(() => client.stop());
    client.start();
    await waitFor(() => client.connected, 'connected');
    expect(client.report({ atMs: 1, breakers: [], endpoints: [], upstreams: [] })).toBe(true);
    await plane.waitFor((m) => m.kind === 'report');
    clock.advance(30_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lines).toEqual([]);
    expect(plane.openStreams).toBe(1);
    expect(plane.received.map((r) => r.message.kind)).toEqual(['hello', 'report']);
  });
});

describe('control client applies', () => {
  it('NACKs a snapshot whose apply failed outright, naming the error, and stays connected', async () => {
    const plane = await TestControlPlane.start({ snapshot: { version: 4, document: {} } });
    cleanups.push(() => plane.kill());
    const client = new ControlClient({
      addresses: [plane.address], credentials: grpc.credentials.createInsecure(), clock: new FakeClock(), random: () => 0, logger: recordingLogger().logger,
      hello, apply: () => Promise.reject(new Error('config loader exited with code 1')),
    });
    cleanups.push(() => client.stop());
    client.start();
    const nack = await plane.waitFor((m) => m.kind === 'nack');
    expect(nack.message.nack).toEqual({ version: 4, errors: [{ path: '', message: 'the agent could not apply it: config loader exited with code 1' }] });
    expect(client.connected).toBe(true);
  });
});

describe('control runtime reports', () => {
  it('reports on connect, at once on a breaker transition or ejection, at most one per 100 ms, and not for other decisions', async () => {
    const plane = await TestControlPlane.start();
    cleanups.push(() => plane.kill());
    const clock = new FakeClock();
    const decisions = new DecisionLog(clock, Date.now);
    const runtime = new ControlRuntime({
      control: { address: [{ host: '127.0.0.1', port: Number(plane.address.split(':')[1]), text: plane.address }], reportInterval: 5_000 },
      clock, random: () => 0, logger: recordingLogger().logger,
      source: { decisions, metrics: new MeshletMetrics(), traffic: { read: () => ({ windowMs: 0, upstreams: [] }) }, upstreams: () => [] },
      hello, apply: () => Promise.resolve({ ok: true }),
    });
    cleanups.push(() => runtime.stop());
    const reports = () => plane.received.filter((r) => r.message.kind === 'report').length;
    await waitFor(() => reports() === 1, 'report on connect');

    decisions.record({ kind: 'shed', scope: 'service:orders', reason: 'shed' });
    clock.advance(100);
    decisions.record({ kind: 'breaker_opened', scope: 'catalog', endpoint: '10.0.0.1:80', reason: 'opened' });
    decisions.record({ kind: 'ejected', scope: 'catalog', endpoint: '10.0.0.2:80', reason: 'ejected' });
    clock.advance(0);
    await waitFor(() => reports() === 2, 'report on the transition');
    for (let i = 0; i < 5; i++) {
      decisions.record({ kind: 'breaker_closed', scope: 'catalog', endpoint: '10.0.0.1:80', reason: 'closed' });
      clock.advance(20);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    // 100 ms after the last report one more went out, carrying all five.
    expect(reports()).toBe(3);
    clock.advance(5_000);
    await waitFor(() => reports() === 4, 'periodic report');
  });
});
