// Shutdown by SIGTERM: the agent turns unready, stops accepting, lets requests in flight finish
// and exits 0, but never waits longer than drainTimeout for them.
import net from 'node:net';
import { Agent as Dispatcher, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type ExitStatus, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { echoClient, unary } from '../helpers/grpc-client.ts';

function drainConfig(upstream: SampleUpstream, drainTimeout?: string, grpcUpstream?: SampleUpstream): object {
  return {
    admin: { listen: '127.0.0.1:0' },
    ...(drainTimeout ? { drainTimeout } : {}),
    upstreams: [
      { name: 'slow', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address], policy: { timeout: '10s' } },
      ...(grpcUpstream ? [{ name: 'payments', protocol: 'grpc', listen: '127.0.0.1:0', endpoints: [grpcUpstream.address] }] : []),
    ],
  };
}

/** Polls the agent's in-flight gauge until a request is inside the agent. */
async function untilInFlight(admin: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const text = await (await request(`http://${admin}/metrics`)).body.text();
    if (/^meshlet_requests_in_flight\{[^}]*\} [1-9]/m.test(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no request in flight after 2 s');
}

async function readyStatus(admin: string): Promise<number | 'refused'> {
  try {
    const res = await request(`http://${admin}/readyz`, { reset: true });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return 'refused';
  }
}

/** Resolves 'refused' when a new TCP connection to `address` is refused, 'accepted' otherwise. */
function tryConnect(address: string): Promise<'accepted' | 'refused'> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', () => resolve('refused'));
  });
}

describe('drain on SIGTERM', () => {
  let upstream: SampleUpstream;
  let grpcUpstream: SampleUpstream;
  let agent: RunningAgent | undefined;
  const dispatcher = new Dispatcher();
  const idleClient = new Dispatcher({ keepAliveTimeout: 30_000 });

  beforeAll(async () => {
    [upstream, grpcUpstream] = await Promise.all([
      startUpstream({ kind: 'http1', id: 'slow-a' }),
      startUpstream({ kind: 'grpc', id: 'pay-a' }),
    ]);
  });

  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = undefined;
  });

  afterAll(async () => {
    await dispatcher.close();
    await idleClient.close();
    await upstream?.stop();
    await grpcUpstream?.stop();
  });

  it('turns unready, refuses new connections, finishes the request in flight and exits 0', async () => {
    agent = await startAgent(drainConfig(upstream));
    const port = agent.listeners['upstream:slow']!;
    expect(await readyStatus(agent.admin)).toBe(200);
    // A client that keeps an idle keep-alive connection open must not hold the exit up.
    const idle = await request(`http://${port}/warm`, { dispatcher: idleClient });
    await idle.body.dump();
    expect(idle.statusCode).toBe(200);

    const slow = request(`http://${port}/slow`, { dispatcher, headers: { 'x-delay-ms': '1000' } });
    await untilInFlight(agent.admin);
    const exiting: Promise<ExitStatus> = agent.stop('SIGTERM');
    await agent.waitForLog((line) => line.msg === 'draining', 2_000);

    expect(await readyStatus(agent.admin)).toBe(503);
    expect(await tryConnect(port)).toBe('refused');

    const res = await slow;
    const answeredAt = performance.now();
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-instance']).toBe('slow-a');
    expect((await res.body.json()) as { path: string }).toMatchObject({ path: '/slow' });
    expect(await exiting).toEqual({ code: 0, signal: null });
    expect(performance.now() - answeredAt).toBeLessThan(2_000);
    expect(agent.logs().find((line) => line.msg === 'stopped')).toMatchObject({ clean: true });
  });

  it('lets a gRPC call in flight on a kept-alive channel finish before exiting', async () => {
    agent = await startAgent(drainConfig(upstream, undefined, grpcUpstream));
    const client = echoClient(agent.listeners['upstream:payments']!);
    try {
      expect((await unary(client, { message: 'warm' })).reply.instance).toBe('pay-a');
      const slow = unary(client, { message: 'slow', delayMs: 800 });
      await untilInFlight(agent.admin);
      const exiting = agent.stop('SIGTERM');
      const { reply } = await slow;
      expect(reply).toMatchObject({ message: 'slow', instance: 'pay-a' });
      expect(await exiting).toEqual({ code: 0, signal: null });
    } finally {
      client.close();
    }
  });

  it('gives up on a request slower than drainTimeout and exits 0 soon after it', async () => {
    agent = await startAgent(drainConfig(upstream, '500ms'));
    const slow = request(`http://${agent.listeners['upstream:slow']!}/slower`, { dispatcher, headers: { 'x-delay-ms': '5000' } })
      .then(async (res) => {
        await res.body.dump();
        return `status ${res.statusCode}`;
      }, (error: Error) => error.message);
    await untilInFlight(agent.admin);

    const started = performance.now();
    const status = await agent.stop('SIGTERM');
    const elapsed = performance.now() - started;

    expect(status).toEqual({ code: 0, signal: null });
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(1_500);
    expect(agent.logs().find((line) => line.msg === 'stopped')).toMatchObject({ clean: false });
    // The client is not left hanging for the rest of the 5 s.
    expect(await slow).not.toBe('status 200');
  });
});
