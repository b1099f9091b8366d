// What clients can make the agent do to its upstreams and its own memory: HTTP/2 stream limits
// and windows, rapid reset (CVE-2023-44487), requests cancelled while they wait for a
// connection, and what a full connection pool answers.
import { connect as connectH2, constants, type ClientHttp2Session } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { h2Session, metricsText, residentBytes, sampleValue } from './http-support.ts';
import {
  countingH2Upstream,
  countingHttp1Upstream,
  eventually,
  h2Preface,
  h2RequestAndReset,
  pumpBody,
  rawConnection,
  timedGet,
  type CountingUpstream,
} from './limits-support.ts';

let agent: RunningAgent | undefined;
let upstream: CountingUpstream | undefined;
const sessions: ClientHttp2Session[] = [];

afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy();
  await agent?.stop();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

function agentConfig(endpoint: string, protocol: 'http' | 'http2', policy: object = {}, listeners: object = {}): object {
  return {
    node: 'limits-upstream-test',
    admin: { listen: '127.0.0.1:0' },
    listeners,
    upstreams: [{ name: 'catalog', protocol, listen: '127.0.0.1:0', endpoints: [endpoint], policy }],
  };
}

function listenerOf(running: RunningAgent): string {
  return running.listeners['upstream:catalog']!;
}

function session(address: string, options?: Parameters<typeof connectH2>[1]): ClientHttp2Session {
  const opened = options ? connectH2(`http://${address}`, options) : h2Session(address);
  opened.on('error', () => undefined);
  sessions.push(opened);
  return opened;
}

function remoteSettingsOf(client: ClientHttp2Session): Promise<Record<string, unknown>> {
  return new Promise((resolve) => client.once('remoteSettings', (settings) => resolve(settings as Record<string, unknown>)));
}

const KiB = 1024;
const MiB = 1024 * KiB;

describe('HTTP/2 to clients', () => {
  it('advertises a stream limit and a bounded stream window', async () => {
    upstream = await countingHttp1Upstream();
    agent = await startAgent(agentConfig(upstream.address, 'http'));
    const settings = await remoteSettingsOf(session(listenerOf(agent)));
    expect(settings.maxConcurrentStreams).toBe(100);
    expect(settings.initialWindowSize).toBe(128 * KiB);
  });

  it('makes 10 connections × 1,000 HEADERS + RST_STREAM cost next to nothing upstream, and normal clients keep their latency', async () => {
    upstream = await countingHttp1Upstream((_req, res) => setTimeout(() => res.end('ok'), 2));
    agent = await startAgent(agentConfig(upstream.address, 'http'));
    const address = listenerOf(agent);
    const baseline = await timedGet(address);
    expect(baseline.status).toBe(200);

    const attackers = await Promise.all(Array.from({ length: 10 }, () => rawConnection(address)));
    const normal: Promise<{ status: number; ms: number }>[] = [];
    const everyFew = setInterval(() => normal.push(timedGet(address)), 20);
    await Promise.all(
      attackers.map(async (attacker) => {
        attacker.socket.write(h2Preface());
        for (let batch = 0; batch < 10 && !attacker.isClosed(); batch++) {
          const frames: Buffer[] = [];
          for (let i = 0; i < 100; i++) frames.push(h2RequestAndReset(1 + 2 * (batch * 100 + i), 'catalog'));
          attacker.socket.write(Buffer.concat(frames));
          await new Promise((resolve) => setImmediate(resolve));
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    clearInterval(everyFew);
    const answered = await Promise.all(normal);
    for (const attacker of attackers) attacker.socket.destroy();

    const rapidResets = sampleValue(await metricsText(agent), 'meshlet_connections_closed_total', { listener: 'upstream:catalog', reason: 'rapid_reset' });
    // Every attacking session is closed after at most ~100 of its streams; almost none reach the upstream.
    expect(rapidResets).toBe(10);
    expect(upstream.requests - answered.length - 1).toBeLessThan(100);
    expect(upstream.connections).toBeLessThan(20);
    expect(answered.map((r) => r.status)).toEqual(answered.map(() => 200));
    expect(Math.max(...answered.map((r) => r.ms))).toBeLessThan(2000);
    const calls = sampleValue(await metricsText(agent), 'meshlet_requests_total', { upstream: 'catalog' });
    console.log(`rapid reset: ${calls} calls, ${upstream.requests} upstream requests over ${upstream.connections} connections, ${answered.length} normal requests, slowest ${Math.max(...answered.map((r) => r.ms)).toFixed(1)} ms`);
  });
});

describe('requests waiting for an upstream connection or stream', () => {
  it('never reach the HTTP/1.1 upstream once cancelled, and the queue beyond maxQueued gets 503 MESHLET_UPSTREAM_OVERFLOW', async () => {
    upstream = await countingHttp1Upstream((_req, res) => setTimeout(() => res.end('slow'), 800));
    agent = await startAgent(agentConfig(upstream.address, 'http', { connections: { maxPerEndpoint: 1, maxQueued: 1 } }));
    const address = listenerOf(agent);
    const first = timedGet(address);
    await eventually(() => upstream!.requests === 1, 5000);
    // The second waits for the only connection, and is given up on while it waits.
    const waiting = await rawConnection(address);
    waiting.socket.write('GET /given-up HTTP/1.1\r\nHost: catalog\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    waiting.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const third = await rawConnection(address);
    third.socket.write('GET /queued HTTP/1.1\r\nHost: catalog\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const overflow = await rawConnection(address);
    overflow.socket.write('GET /overflow HTTP/1.1\r\nHost: catalog\r\nConnection: close\r\n\r\n');
    await overflow.closed;
    expect(overflow.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(overflow.received()).toMatch(/x-meshlet-error: MESHLET_UPSTREAM_OVERFLOW/i);

    expect((await first).status).toBe(200);
    expect(await eventually(() => third.received().includes('slow'), 5000)).toBe(true);
    third.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(upstream.requests).toBe(2);
    expect(upstream.connections).toBe(1);
  });

  it('never reach the HTTP/2 upstream once cancelled while waiting for a stream', async () => {
    upstream = await countingH2Upstream((stream) => {
      setTimeout(() => {
        if (!stream.destroyed) stream.respond({ ':status': 200 }, { endStream: true });
      }, 800);
    });
    agent = await startAgent(agentConfig(upstream.address, 'http2', { connections: { maxStreamsPerConnection: 1 } }));
    const client = session(listenerOf(agent));
    const first = client.request({ ':path': '/first' });
    first.resume();
    const firstDone = new Promise((resolve) => first.once('close', resolve));
    await eventually(() => upstream!.requests === 1, 5000);
    const givenUp = client.request({ ':path': '/given-up' });
    givenUp.on('error', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    givenUp.close(constants.NGHTTP2_CANCEL);
    await firstDone;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(upstream.requests).toBe(1);
    expect(upstream.maxConcurrent).toBe(1);
  });
});

describe('memory, whatever clients and upstreams do with flow control', () => {
  it('32 h2c uploads into an upstream that does not read grow the agent by little more than 32 stream windows', async () => {
    upstream = await countingH2Upstream((stream) => stream.pause(), { initialWindowSize: 65_535 });
    agent = await startAgent(agentConfig(upstream.address, 'http2'));
    const client = session(listenerOf(agent), { settings: { initialWindowSize: 16 * MiB } });
    await timedGetH2(client);
    const before = await residentBytes(agent.pid);
    const chunk = Buffer.alloc(64 * KiB, 'u');
    for (let i = 0; i < 32; i++) {
      const upload = client.request({ ':method': 'POST', ':path': `/upload/${i}` });
      upload.on('error', () => undefined);
      // Writes until flow control holds it: everything past the windows waits in this process.
      for (let written = 0; written < 16 * MiB; written += chunk.length) upload.write(chunk);
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const grown = (await residentBytes(agent.pid)) - before;
    // Per stream: the client-side window (128 KiB) + what sits between the streams (~64 KiB).
    console.log(`32 stalled uploads: RSS grew ${(grown / MiB).toFixed(1)} MiB`);
    expect(upstream.requests).toBe(32 + 1);
    expect(grown).toBeLessThan(32 * 192 * KiB + 16 * MiB);
  });

  it('24 stalled download streams on one connection grow the agent by little more than 24 stream windows', async () => {
    const body = Buffer.alloc(64 * KiB, 'd');
    upstream = await countingH2Upstream((stream) => {
      stream.respond({ ':status': 200 });
      pumpBody(stream, body, 32 * MiB);
    }, { initialWindowSize: 16 * MiB });
    agent = await startAgent(agentConfig(upstream.address, 'http2'));
    const client = session(listenerOf(agent));
    const before = await residentBytes(agent.pid);
    for (let i = 0; i < 24; i++) {
      const download = client.request({ ':path': `/download/${i}` });
      download.on('error', () => undefined);
      download.pause();
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const grown = (await residentBytes(agent.pid)) - before;
    // Per stream: the upstream-side window (128 KiB) + the client stream's buffers (~64 KiB).
    console.log(`24 stalled downloads: RSS grew ${(grown / MiB).toFixed(1)} MiB`);
    expect(upstream.requests).toBe(24);
    expect(grown).toBeLessThan(24 * 192 * KiB + 16 * MiB);
  });
});

async function timedGetH2(client: ClientHttp2Session): Promise<void> {
  const probe = client.request({ ':method': 'POST', ':path': '/probe' });
  probe.on('error', () => undefined);
  probe.end('x');
  await new Promise((resolve) => setTimeout(resolve, 200));
  probe.close();
}
