// Hostile and mistaken clients against a real `meshlet control`: missing, wrong and other-role
// tokens, a Connect that never says hello, garbage and oversized messages, a report of 100,000
// endpoints, a flood of connects. Each is refused with a clear status, and the server neither
// crashes nor changes its state.
import * as grpc from '@grpc/grpc-js';
import { connect as http2Connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlProto, type ControlClient } from '../../src/control/control-proto.ts';
import { AGENT_TOKEN, apply, call, controlClient, OPERATOR_TOKEN, RawAgent, startControl, type RunningControl } from '../helpers/control-plane.ts';
import { isAlive } from '../helpers/processes.ts';
import { until } from '../helpers/until.ts';

let control: RunningControl;
let client: ControlClient;

beforeAll(async () => {
  control = await startControl();
  client = controlClient(control.address);
  expect((await apply(client, { upstreams: { payments: { timeout: '2s' } } }, 0)).version).toBe(1);
});

afterAll(async () => {
  client?.close();
  await control?.stop('SIGTERM', true);
});

async function unchanged(): Promise<void> {
  expect(isAlive(control.pid)).toBe(true);
  expect((await call(client, 'GetPolicy', { version: 0 })).version).toBe(1);
}

describe('meshlet control refuses', () => {
  it('a call without a token, with a token it does not know, or with the other role’s token', async () => {
    await expect(call(client, 'GetPolicy', {}, null)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('authorization: Bearer') });
    await expect(call(client, 'ApplyPolicy', { documentJson: '{}' }, 'guess')).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('not one this control plane knows') });
    await expect(call(client, 'ApplyPolicy', { documentJson: '{}', force: true }, AGENT_TOKEN)).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringContaining('may call only Connect') });
    const basic = new grpc.Metadata();
    basic.set('authorization', `Basic ${OPERATOR_TOKEN}`);
    const refused = await new Promise<grpc.ServiceError>((resolve) => client.ListAgents({}, basic, {}, (e) => resolve(e!)));
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);

    expect((await new RawAgent(client, null).hello('a').status).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await new RawAgent(client, 'guess').hello('a').status).code).toBe(grpc.status.UNAUTHENTICATED);
    const asOperator = await new RawAgent(client, OPERATOR_TOKEN).hello('a').status;
    expect(asOperator).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringContaining('needs the agent token') });
    expect((await call(client, 'ListAgents', {})).agents).toEqual([]);
    await unchanged();
  });

  it('a Connect whose first message is not hello, a second hello, an empty message, a bad node name', async () => {
    expect(await new RawAgent(client).send({ ack: { version: 1 } }).status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'the first message on Connect must be hello' });
    expect((await new RawAgent(client).hello('twice-hello').hello('twice-hello').status).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await new RawAgent(client).hello('empty').send({} as never).status).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await new RawAgent(client).hello('bad name/../x').status).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await new RawAgent(client).hello('x'.repeat(300)).status).code).toBe(grpc.status.INVALID_ARGUMENT);
    await unchanged();
  });

  it('a Connect that never says hello, after the hello timeout', async () => {
    const started = performance.now();
    const status = await new RawAgent(client).status;
    expect(status).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED, details: expect.stringContaining('no hello within 10000 ms') });
    expect(performance.now() - started).toBeGreaterThan(9_000);
  }, 30_000);

  it('an ACK or NACK of a version it was never sent: ignored, the agent’s state is unchanged', async () => {
    const agent = new RawAgent(client).hello('liar');
    await agent.snapshot(1);
    agent.send({ ack: { version: 1 } }).send({ ack: { version: 99 } }).send({ nack: { version: 1000, errors: [{ path: 'x', message: 'y' }] } });
    await until(async () => (await call(client, 'ListAgents', {})).agents.some((a) => a.node === 'liar' && a.version === 1), 10_000, 'ack listed');
    // The stream is still open and what followed the real ack changed nothing.
    agent.send({ report: { atMs: 5 } });
    await until(async () => (await call(client, 'ListAgents', {})).agents.find((a) => a.node === 'liar')?.lastReport?.atMs === 5, 10_000, 'report listed');
    expect((await call(client, 'ListAgents', {})).agents.find((a) => a.node === 'liar')).toMatchObject({ version: 1, nack: null, connected: true });
    agent.close();
  });

  it('an AgentMessage over 4 MiB, and a report of 100,000 endpoints, keeping the last report', async () => {
    const agent = new RawAgent(client).hello('big');
    await agent.snapshot(1);
    agent.send({ report: { atMs: 7, endpoints: [{ upstream: 'payments', address: '10.0.0.1:80', health: 'healthy' }] } });
    await until(async () => (await call(client, 'ListAgents', {})).agents.find((a) => a.node === 'big')?.lastReport?.atMs === 7, 10_000, 'first report');
    agent.send({ report: { atMs: 8, breakers: [{ upstream: 'payments', reason: 'x'.repeat(5 * 1024 * 1024) }] } });
    expect((await agent.status).code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    const flood = new RawAgent(client).hello('big');
    await flood.snapshot(1);
    const endpoints = Array.from({ length: 100_000 }, (_, i) => ({ upstream: 'p', address: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:80`, health: 'healthy' }));
    flood.send({ report: { atMs: 9, endpoints } });
    expect(await flood.status).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: expect.stringContaining('100000 endpoints (at most 10000)') });
    const big = (await call(client, 'ListAgents', {})).agents.find((a) => a.node === 'big');
    expect(big?.lastReport?.atMs).toBe(7);
    expect(big?.lastReport?.endpoints.length).toBe(1);
    await unchanged();
  });

  it('a document over 1 MiB, with a field error, storing nothing', async () => {
    const huge = { upstreams: { payments: { timeout: '2s' } }, pad: 'x'.repeat(1024 * 1024) };
    const result = await apply(client, huge, 1);
    expect(result).toMatchObject({ ok: false, errors: [{ path: '', message: expect.stringMatching(/at most 1048576/) }] });
    await unchanged();
  });

  it('bytes that are not protobuf on the Connect stream, before or after hello: the stream ends, the agent shows as gone', async () => {
    // A gRPC message: not compressed, a 4-byte big-endian length, the bytes.
    const grpcFrame = (payload: Buffer) => {
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(payload.length, 1);
      return Buffer.concat([prefix, payload]);
    };
    const garbage = grpcFrame(Buffer.alloc(16, 0xff));
    const hello = grpcFrame(controlProto().service.Connect!.requestSerialize({ hello: { node: 'garbage-after-hello' } }));
    for (const frames of [[garbage], [hello, garbage]]) {
      const session = http2Connect(`http://${control.address}`);
      session.on('error', () => undefined);
      const stream = session.request({
        ':method': 'POST', ':path': '/meshlet.v1.Control/Connect', 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${AGENT_TOKEN}`,
      });
      stream.on('error', () => undefined);
      for (const frame of frames) stream.write(frame);
      const trailers = await new Promise<Record<string, unknown>>((resolve) => {
        stream.on('trailers', (t) => resolve(t as Record<string, unknown>));
        stream.on('response', (h) => {
          if (h['grpc-status'] !== undefined) resolve(h as Record<string, unknown>);
        });
        stream.resume();
      });
      expect(Number(trailers['grpc-status'])).not.toBe(grpc.status.OK);
      session.close();
    }
    await until(async () => (await call(client, 'ListAgents', {})).agents.find((a) => a.node === 'garbage-after-hello')?.connected === false, 10_000, 'agent gone after garbage');
    await unchanged();
  });

  it('a flood of 1,500 Connects that never say hello: past 1,000 waiting, refused at once; operators still served, agents once it ends', async () => {
    const channels = Array.from({ length: 20 }, () => controlClient(control.address, undefined, { 'grpc.use_local_subchannel_pool': 1 }));
    const flood = Array.from({ length: 1_500 }, (_, i) => new RawAgent(channels[i % channels.length]!));
    const settled = await Promise.all(flood.map((a) => Promise.race([a.status, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3_000))])));
    const exhausted = settled.filter((s) => s?.code === grpc.status.RESOURCE_EXHAUSTED);
    // 500, give or take a stream an earlier test left waiting for its hello timeout.
    expect(exhausted.length).toBeGreaterThanOrEqual(500);
    expect(exhausted.length).toBeLessThanOrEqual(505);
    expect(exhausted[0]!.details).toMatch(/1000 Connect streams are waiting for their hello/);
    // The bound holds for the token holder who floods; operators are not affected.
    expect((await apply(client, { upstreams: { payments: { timeout: '3s' } } }, 1)).version).toBe(2);
    for (const a of flood) a.close();
    for (const c of channels) c.close();
    const agent = new RawAgent(client).hello('after-flood');
    expect((await agent.snapshot(2)).version).toBe(2);
    agent.close();
    expect(isAlive(control.pid)).toBe(true);
  }, 30_000);
});
