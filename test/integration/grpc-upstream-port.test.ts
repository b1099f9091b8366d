// gRPC through an upstream's own port: a real grpc-js client talks h2c to the agent, which
// balances each call over two sample Echo instances and relays messages, metadata and trailers.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { echoClient, serverStream, unary, type EchoClient, type EchoReply } from '../helpers/grpc-client.ts';

describe('gRPC through the upstream port', () => {
  let instances: SampleUpstream[] = [];
  let agent: RunningAgent;
  let client: EchoClient;

  beforeAll(async () => {
    instances = await Promise.all([
      startUpstream({ kind: 'grpc', id: 'pay-a' }),
      startUpstream({ kind: 'grpc', id: 'pay-b' }),
    ]);
    agent = await startAgent({
      admin: { listen: '127.0.0.1:0' },
      upstreams: [{
        name: 'payments',
        protocol: 'grpc',
        listen: '127.0.0.1:0',
        endpoints: instances.map((u) => u.address),
        policy: { lb: { algorithm: 'round_robin' }, timeout: '5s' },
      }],
    });
    client = echoClient(agent.listeners['upstream:payments']!);
  });

  afterAll(async () => {
    client?.close();
    await agent?.stop();
    await Promise.all(instances.map((u) => u.stop()));
  });

  it('answers unary calls from both instances, with their headers and trailers', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => unary(client, { message: `hello ${i}` })));
    results.forEach((result, i) => expect(result.reply.message).toBe(`hello ${i}`));
    for (const { reply, headers, trailers } of results) {
      expect(headers.get('x-instance')).toEqual([reply.instance]);
      expect(trailers.get('x-instance')).toEqual([reply.instance]);
    }
    expect(new Set(results.map((r) => r.reply.instance))).toEqual(new Set(['pay-a', 'pay-b']));
  });

  it('streams every server reply in order', async () => {
    const replies = await serverStream(client, { message: 'tick', count: 5 });
    expect(replies.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(replies.map((r) => r.instance)).size).toBe(1);
  });

  it('spreads server streams over both instances', async () => {
    const streams = await Promise.all(Array.from({ length: 6 }, () => serverStream(client, { message: 's', count: 2 })));
    expect(new Set(streams.map((replies) => replies[0]!.instance))).toEqual(new Set(['pay-a', 'pay-b']));
  });

  it('relays a client stream and its single reply', async () => {
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const call = client.ClientStream(new grpc.Metadata(), {}, (error, value) => (error ? reject(error) : resolve(value!)));
      for (const part of ['a', 'b', 'c', 'd']) call.write({ message: part });
      call.end();
    });
    expect(reply).toMatchObject({ message: 'abcd', index: 4 });
  });

  it('relays a bidirectional stream message by message', async () => {
    const call = client.Bidi(new grpc.Metadata(), {});
    const received: EchoReply[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (reply: EchoReply) => {
        received.push(reply);
        // Each reply is answered before the next request goes out: a real ping-pong.
        if (received.length < 3) call.write({ message: `ping ${received.length}` });
        else call.end();
      });
      call.on('error', reject);
      call.on('end', resolve);
    });
    call.write({ message: 'ping 0' });
    await ended;
    expect(received.map((r) => [r.message, r.index])).toEqual([['ping 0', 0], ['ping 1', 1], ['ping 2', 2]]);
  });

  it("returns an instance's error status and message unchanged, with its trailers", async () => {
    const error = await unary(client, { message: 'x', failCode: grpc.status.FAILED_PRECONDITION }).catch((e: grpc.ServiceError) => e);
    expect(error).toBeInstanceOf(Error);
    const serviceError = error as grpc.ServiceError;
    expect(serviceError.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(serviceError.details).toMatch(/^pay-[ab] failed with code 9 as asked$/);
    expect(serviceError.metadata.get('x-instance')).toHaveLength(1);
  });

  it('ends a server stream with the asked status after its replies', async () => {
    const replies: EchoReply[] = [];
    const call = client.ServerStream({ message: 'm', count: 3, failCode: grpc.status.RESOURCE_EXHAUSTED }, new grpc.Metadata(), {});
    const error = await new Promise<grpc.ServiceError>((resolve, reject) => {
      call.on('data', (reply: EchoReply) => replies.push(reply));
      call.on('error', resolve);
      call.on('end', () => reject(new Error('stream ended without an error')));
    });
    expect(replies).toHaveLength(3);
    expect(error.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(error.details).toMatch(/failed with code 8 as asked/);
  });
});
