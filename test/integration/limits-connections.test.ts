// Connections a client opens and then misuses: silent or one-byte connections, stalled heads
// and bodies, idle keep-alive, deep pipelining. The agent keeps answering everyone else, closes
// what overstays its timeout, never holds more descriptors than it has, and never turns one
// client connection into many upstream ones.
import { connect as connectH2 } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { metricsText, pollUntil, rawHeader, rawStatus, sampleValue } from './http-support.ts';
import { countingHttp1Upstream, eventually, rawConnection, timedGet, type CountingUpstream, type RawConnection } from './limits-support.ts';

let agent: RunningAgent | undefined;
let upstream: CountingUpstream | undefined;
const opened: RawConnection[] = [];

afterEach(async () => {
  for (const connection of opened.splice(0)) connection.socket.destroy();
  await agent?.stop();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

function agentConfig(endpoint: string, listeners: object, policy: object = {}): object {
  return {
    node: 'limits-test',
    admin: { listen: '127.0.0.1:0' },
    listeners,
    upstreams: [{ name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [endpoint], policy }],
  };
}

function listenerOf(running: RunningAgent): string {
  return running.listeners['upstream:catalog']!;
}

async function closedBy(reason: string): Promise<number> {
  return sampleValue(await metricsText(agent!), 'meshlet_connections_closed_total', { listener: 'upstream:catalog', reason });
}

describe('a flood of connections that each send one byte, under ulimit -n 1024', () => {
  it('neither stops normal clients nor outlives the headers timeout, and never runs into EMFILE', async () => {
    upstream = await countingHttp1Upstream();
    agent = await startAgent(agentConfig(upstream.address, { headersTimeout: '1s' }), { openFilesLimit: 1024 });
    const address = listenerOf(agent);

    const flood: RawConnection[] = [];
    const normal: Promise<{ status: number; ms: number }>[] = [];
    for (let i = 0; i < 1100; i++) {
      const connection = await rawConnection(address).catch(() => undefined);
      if (connection) {
        connection.socket.write('G');
        flood.push(connection);
        opened.push(connection);
      }
      if (i % 100 === 50) normal.push(timedGet(address));
    }
    normal.push(timedGet(address));
    const answered = await Promise.all(normal);

    expect(flood.length).toBe(1100);
    expect(answered.map((r) => r.status)).toEqual(answered.map(() => 200));
    expect(Math.max(...answered.map((r) => r.ms))).toBeLessThan(3000);
    // 1 s headers timeout, swept every 250 ms: all gone well within 5 s.
    expect(await eventually(() => flood.every((c) => c.isClosed()), 5000)).toBe(true);
    expect(agent.logs().some((line) => String(line.err ?? '').includes('EMFILE'))).toBe(false);
    const metrics = await metricsText(agent);
    const held = sampleValue(metrics, 'meshlet_connections_closed_total', { listener: 'upstream:catalog', reason: 'headers_timeout' });
    const evicted = sampleValue(metrics, 'meshlet_connections_closed_total', { listener: 'upstream:catalog', reason: 'evicted' });
    const rejected = sampleValue(metrics, 'meshlet_connections_rejected_total', { listener: 'upstream:catalog' });
    expect(held + evicted + rejected).toBeGreaterThanOrEqual(1100);
    // (1024 - 64) / 2 = 480 client connections at most at once.
    expect(held).toBeLessThanOrEqual(480);
    expect((await timedGet(address)).status).toBe(200);
  });
});

describe('the process-wide connection cap', () => {
  it('holds at most listeners.maxConnectionsTotal client connections over all listeners, however many descriptors there are', async () => {
    upstream = await countingHttp1Upstream();
    agent = await startAgent({
      node: 'limits-test',
      admin: { listen: '127.0.0.1:0' },
      listeners: { maxConnectionsTotal: 20, headersTimeout: '30s' },
      upstreams: ['catalog', 'orders'].map((name) => ({ name, protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream!.address] })),
    });
    for (const listener of ['upstream:catalog', 'upstream:orders']) {
      for (let i = 0; i < 15; i++) {
        const connection = await rawConnection(agent.listeners[listener]!);
        connection.socket.write('G');
        opened.push(connection);
      }
    }
    const listeners = ['upstream:catalog', 'upstream:orders'];
    const counts = async (): Promise<{ open: number; shed: number }> => {
      const metrics = await metricsText(agent!);
      let open = 0;
      let shed = 0;
      for (const listener of listeners) {
        open += sampleValue(metrics, 'meshlet_connections_open', { listener });
        shed += sampleValue(metrics, 'meshlet_connections_rejected_total', { listener });
        shed += sampleValue(metrics, 'meshlet_connections_closed_total', { listener, reason: 'evicted' });
      }
      return { open, shed };
    };
    const settled = await pollUntil(counts, (c) => c.shed >= 10);
    expect(settled.open).toBeLessThanOrEqual(20);
    expect(settled.shed).toBe(10);
    // The newest connections evict the longest-waiting ones: a normal client still gets through.
    expect((await timedGet(agent.listeners['upstream:orders']!)).status).toBe(200);
  });
});

describe('timeouts', () => {
  it('close a connection whose request head stalls, and one that never sends a byte, each after a 408', async () => {
    upstream = await countingHttp1Upstream();
    agent = await startAgent(agentConfig(upstream.address, { headersTimeout: '1s' }));
    const [silent, partial] = await Promise.all([rawConnection(listenerOf(agent)), rawConnection(listenerOf(agent))]);
    opened.push(silent, partial);
    partial.socket.write('GET / HTTP/1.1\r\nHost: catalog\r\n');
    expect(await eventually(() => silent.isClosed() && partial.isClosed(), 5000)).toBe(true);
    for (const connection of [silent, partial]) {
      expect(rawStatus(connection.received())).toBe(408);
      expect(rawHeader(connection.received(), 'x-meshlet-error')).toBe('MESHLET_BAD_REQUEST');
    }
    expect(await closedBy('headers_timeout')).toBe(2);
    expect(upstream.requests).toBe(0);
  });

  it('close an idle keep-alive connection and an HTTP/2 session without streams after idleTimeout', async () => {
    upstream = await countingHttp1Upstream();
    agent = await startAgent(agentConfig(upstream.address, { idleTimeout: '1s' }));
    const kept = await rawConnection(listenerOf(agent));
    opened.push(kept);
    kept.socket.write('GET / HTTP/1.1\r\nHost: catalog\r\n\r\n');
    expect(await eventually(() => kept.received().includes('\r\n\r\nok'), 5000)).toBe(true);
    const session = connectH2(`http://${listenerOf(agent)}`);
    session.on('error', () => undefined);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const sessionClosed = new Promise<void>((resolve) => session.once('close', () => resolve()));

    expect(await eventually(() => kept.isClosed(), 5000)).toBe(true);
    await Promise.race([Promise.all([goaway, sessionClosed]), new Promise((_, reject) => setTimeout(() => reject(new Error('session still open')), 5000))]);
    expect(await closedBy('idle_timeout')).toBe(2);
  });

  it('close a connection whose request body stops arriving, after a 408 if no response has begun, and cancel its upstream request', async () => {
    let upstreamSawAbort = false;
    upstream = await countingHttp1Upstream((req, res) => {
      req.resume();
      req.once('aborted', () => (upstreamSawAbort = true));
      req.once('close', () => (upstreamSawAbort ||= !req.complete));
      // This one answers before the body is in: a status line later would corrupt that answer.
      if (req.url === '/early') res.writeHead(200, { 'content-type': 'text/plain' }).write('early answer');
    });
    agent = await startAgent(agentConfig(upstream.address, { bodyIdleTimeout: '1s' }));
    const [upload, answered] = await Promise.all([rawConnection(listenerOf(agent)), rawConnection(listenerOf(agent))]);
    opened.push(upload, answered);
    upload.socket.write('POST /upload HTTP/1.1\r\nHost: catalog\r\nContent-Length: 1000\r\n\r\n0123456789');
    answered.socket.write('POST /early HTTP/1.1\r\nHost: catalog\r\nContent-Length: 1000\r\n\r\n0123456789');
    expect(await eventually(() => upload.isClosed() && answered.isClosed(), 5000)).toBe(true);
    expect(rawStatus(upload.received())).toBe(408);
    expect(rawHeader(upload.received(), 'x-meshlet-error')).toBe('MESHLET_BAD_REQUEST');
    expect(rawStatus(answered.received())).toBe(200);
    expect(answered.received()).not.toContain('408');
    expect(await closedBy('body_idle_timeout')).toBe(2);
    expect(await eventually(() => upstreamSawAbort, 2000)).toBe(true);
  });

  it('count what an inbound service\'s listener closes under that listener\'s name, as its open and rejected connections', async () => {
    upstream = await countingHttp1Upstream();
    agent = await startAgent({
      node: 'limits-test',
      admin: { listen: '127.0.0.1:0' },
      listeners: { headersTimeout: '1s' },
      services: [{ name: 'orders', protocol: 'http', target: upstream.address, listen: '127.0.0.1:0' }],
    });
    const silent = await rawConnection(agent.listeners['service:orders']!);
    opened.push(silent);
    expect(await eventually(() => silent.isClosed(), 5000)).toBe(true);
    const metrics = await metricsText(agent);
    expect(sampleValue(metrics, 'meshlet_connections_closed_total', { listener: 'service:orders', reason: 'headers_timeout' })).toBe(1);
    expect(metrics).toContain('meshlet_connections_rejected_total{listener="service:orders"} 0');
    expect(metrics).not.toContain('upstream:inbound:orders');
  });
});

describe('pipelined HTTP/1.1 requests', () => {
  it('run one at a time, in order, so one connection never opens more than one upstream connection', async () => {
    upstream = await countingHttp1Upstream((req, res) => setTimeout(() => res.end(`answer to ${req.url}`), 5));
    agent = await startAgent(agentConfig(upstream.address, {}));
    const client = await rawConnection(listenerOf(agent));
    opened.push(client);
    let pipelined = '';
    for (let i = 0; i < 20; i++) pipelined += `GET /${i} HTTP/1.1\r\nHost: catalog\r\n\r\n`;
    client.socket.write(pipelined);

    expect(await eventually(() => client.received().includes('answer to /19'), 10_000)).toBe(true);
    const order = [...client.received().matchAll(/answer to \/(\d+)/g)].map((m) => Number(m[1]));
    expect(order).toEqual([...Array(20).keys()]);
    expect(upstream.maxConcurrent).toBe(1);
    expect(upstream.connections).toBe(1);
  });

  it('beyond 32 waiting, answer those and close the connection instead of fanning out: 1,000 pipelined make one upstream connection', async () => {
    upstream = await countingHttp1Upstream((req, res) => setTimeout(() => res.end('ok'), 5));
    agent = await startAgent(agentConfig(upstream.address, {}));
    const client = await rawConnection(listenerOf(agent));
    opened.push(client);
    client.socket.write('GET / HTTP/1.1\r\nHost: catalog\r\n\r\n'.repeat(1000));

    expect(await eventually(() => client.isClosed(), 10_000)).toBe(true);
    expect(upstream.maxConcurrent).toBe(1);
    expect(upstream.connections).toBe(1);
    expect(upstream.requests).toBe(33);
    expect(client.received().split('HTTP/1.1 200 OK').length - 1).toBe(33);
    expect(await closedBy('pipeline_overflow')).toBe(1);
  });
});
