// gRPC through the proxy port: grpc-js with `grpc_proxy` opens a CONNECT tunnel to the agent
// for the upstream's name, and the agent, speaking h2c inside the tunnel itself, balances every
// call in it over the upstream's instances instead of pinning the tunnel to one.
import http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { echoClient, serverStream, unary, type EchoClient } from '../helpers/grpc-client.ts';

/** Opens one CONNECT tunnel through the proxy port; resolves with the tunnel's status and socket. */
function connectTunnel(proxy: string, target: string): Promise<{ status: number; socket: Socket }> {
  const [host, port] = [proxy.slice(0, proxy.lastIndexOf(':')), Number(proxy.slice(proxy.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method: 'CONNECT', path: target, headers: { host: target } });
    req.once('connect', (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
    req.once('error', reject);
    req.end();
  });
}

/** demo.v1.EchoRequest { message: "x" } as one length-prefixed gRPC message. */
const unaryEchoFrame = Buffer.from([0, 0, 0, 0, 3, 0x0a, 0x01, 0x78]);

/** One gRPC Unary call, hand-made, on an open h2c session; resolves with the answering instance. */
function instanceOf(session: http2.ClientHttp2Session): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST', ':path': '/demo.v1.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers',
    });
    let instance = '';
    stream.once('response', (headers) => (instance = String(headers['x-instance'])));
    stream.once('trailers', (trailers) => {
      if (trailers['grpc-status'] !== '0') reject(new Error(`grpc-status ${String(trailers['grpc-status'])}`));
    });
    stream.resume();
    stream.once('end', () => resolve(instance));
    stream.once('error', reject);
    stream.end(unaryEchoFrame);
  });
}

describe('gRPC through the proxy port (grpc_proxy, CONNECT)', () => {
  const saved = { grpc_proxy: process.env.grpc_proxy, no_grpc_proxy: process.env.no_grpc_proxy };
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
      proxy: { listen: '127.0.0.1:0' },
      upstreams: [
        { name: 'payments', protocol: 'grpc', endpoints: instances.map((u) => u.address), policy: { lb: { algorithm: 'round_robin' } } },
      ],
    });
    // grpc-js reads the proxy from the environment when a channel is created; this file runs
    // in its own worker process, and a stray no_proxy must not exempt the upstream's name.
    process.env.grpc_proxy = `http://${agent.listeners.proxy!}`;
    process.env.no_grpc_proxy = 'no-such-host.invalid';
    client = echoClient('payments:50051');
  });

  afterAll(async () => {
    client?.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await agent?.stop();
    await Promise.all(instances.map((u) => u.stop()));
  });

  it('balances the unary calls of one channel over both instances', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => unary(client, { message: `m${i}` })));
    results.forEach((result, i) => {
      expect(result.reply.message).toBe(`m${i}`);
      expect(result.trailers.get('x-instance')).toEqual([result.reply.instance]);
    });
    expect(new Set(results.map((r) => r.reply.instance))).toEqual(new Set(['pay-a', 'pay-b']));
  });

  it('carries server streams and instance errors through the tunnel', async () => {
    const replies = await serverStream(client, { message: 's', count: 4 });
    expect(replies.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    const error = (await unary(client, { failCode: grpc.status.NOT_FOUND }).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toMatch(/^pay-[ab] failed with code 5 as asked$/);
  });

  it('refuses a tunnel to a name no upstream has, so the call fails as UNAVAILABLE', async () => {
    const stranger = echoClient('nosuch:50051');
    try {
      const error = (await unary(stranger, { message: 'x' }, { deadlineMs: 5_000 }).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(error.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      stranger.close();
    }
  });

  it('balances the calls inside one hand-made tunnel over both instances', async () => {
    const tunnel = await connectTunnel(agent.listeners.proxy!, 'payments:50051');
    expect(tunnel.status).toBe(200);
    const session = http2.connect('http://payments:50051', { createConnection: () => tunnel.socket });
    try {
      const seen: string[] = [];
      for (let i = 0; i < 6; i++) seen.push(await instanceOf(session));
      expect(new Set(seen)).toEqual(new Set(['pay-a', 'pay-b']));
    } finally {
      session.destroy();
    }
  });
});
