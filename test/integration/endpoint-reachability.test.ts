// An instance restarted in place, as a rolling deploy does it, through a real agent: while its
// port refuses connections the agent sends it nothing after the first refused connect, and once
// it listens again on the same port the agent's connect probe finds it within about a second
// and calls reach it again. The bare probe itself against real sockets: up, and refused.
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { tcpConnectProbe } from '../../src/proxy/forward/connect-probe.ts';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { decisionBacklog, unusedPort } from './http-support.ts';

let agent: RunningAgent | undefined;
const servers: Server[] = [];

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** An instance that names itself in its answer, counting the requests it got. */
function instance(name: string, port: number): Promise<{ server: Server; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    res.end(name);
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, requests: () => requests })));
}

function stop(server: Server): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('an instance restarted on the same port', () => {
  it('gets nothing after its first refused connect, and calls again within about a second of listening', async () => {
    const [portA, portB] = [await unusedPort(), await unusedPort()];
    await instance('a', portA);
    let b = await instance('b', portB);
    agent = await startAgent({
      node: 'reachability',
      admin: { listen: '127.0.0.1:0' },
      upstreams: [{ name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [`127.0.0.1:${portA}`, `127.0.0.1:${portB}`], policy: { timeout: '2s', lb: { algorithm: 'round_robin' } } }],
    });
    const url = `http://${agent.listeners['upstream:catalog']}/`;
    const call = async (): Promise<string> => {
      const res = await request(url, { headers: { connection: 'close' } });
      return res.body.text();
    };
    expect(new Set(await Promise.all(Array.from({ length: 10 }, call)))).toEqual(new Set(['a', 'b']));

    await stop(b.server);
    // Let the agent see its idle connections to B close: a call racing that close is what
    // policy.retry's `reset` is for, not this test.
    await sleep(200);
    const whileDown: string[] = [];
    for (let i = 0; i < 40; i++) whileDown.push(await call());
    // The first call to B after it stopped is sent on to A transparently; none is lost.
    expect(new Set(whileDown)).toEqual(new Set(['a']));
    const log = await decisionBacklog(agent);
    expect(log.filter((d) => d.kind === 'unreachable').map((d) => d.endpoint)).toEqual([`127.0.0.1:${portB}`]);

    b = await instance('b', portB);
    const backAt = performance.now();
    let answeredBy = '';
    while (answeredBy !== 'b' && performance.now() - backAt < 5000) {
      answeredBy = await call();
      await sleep(20);
    }
    const backAfterMs = performance.now() - backAt;
    console.log(`restarted instance called again ${backAfterMs.toFixed(0)} ms after it listened`);
    expect(answeredBy).toBe('b');
    // Probes at most 1.2 s apart once the backoff is at its cap (1 s, +20 % jitter); slack for a loaded machine.
    expect(backAfterMs).toBeLessThan(2500);
    const back = (await decisionBacklog(agent)).filter((d) => d.kind === 'reachable');
    expect(back.map((d) => d.reason)).toEqual([expect.stringMatching(/^reachable again: a connect probe succeeded, after \d+ ms and \d+ failed probes?$/)]);
  }, 30_000);
});

describe('the connect probe', () => {
  it('is true for a port that accepts, and false for one that refuses', async () => {
    const listener = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as AddressInfo;
    expect(await tcpConnectProbe('127.0.0.1', port, 1000)).toBe(true);
    await new Promise((resolve) => listener.close(resolve));
    expect(await tcpConnectProbe('127.0.0.1', port, 1000)).toBe(false);
  });
});
