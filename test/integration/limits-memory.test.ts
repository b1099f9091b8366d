// The process-wide ceiling on what peers can make the agent hold: listeners.maxRequestsInFlight
// calls at once, all listeners together, each holding at most its two stream windows and its
// buffers. Past the cap, clients get 503 MESHLET_OVERLOADED (gRPC: RESOURCE_EXHAUSTED) at once.
import { connect as connectH2, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import http, { type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { metricsText, residentBytes, sampleValue, splitAddress } from './http-support.ts';
import { countingH2Upstream, eventually, pumpBody, timedGet, type CountingUpstream } from './limits-support.ts';

let agent: RunningAgent | undefined;
let upstream: CountingUpstream | undefined;
const sessions: ClientHttp2Session[] = [];
const http1Requests: http.ClientRequest[] = [];

afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy();
  for (const request of http1Requests.splice(0)) request.destroy();
  await agent?.stop();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

const KiB = 1024;
const MiB = 1024 * KiB;
const chunk = Buffer.alloc(16 * KiB, 'm');

/** POST /upload is never read; anything else is answered with `downloadBytes`, written as fast as the agent takes them. */
function stallingUpstream(downloadBytes: number): Promise<CountingUpstream> {
  return countingH2Upstream((stream, headers) => {
    if (headers[':method'] === 'POST') {
      stream.pause();
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
    pumpBody(stream, chunk, downloadBytes);
  }, { initialWindowSize: 4 * MiB });
}

function agentConfig(endpoint: string, listeners: object): object {
  return {
    node: 'limits-memory-test',
    admin: { listen: '127.0.0.1:0' },
    listeners,
    upstreams: [{
      name: 'blobs',
      protocol: 'http2',
      listen: '127.0.0.1:0',
      endpoints: [endpoint],
      // One upstream session carries every call, so the cap is met before any upstream limit.
      policy: { timeout: '60s', connections: { maxStreamsPerConnection: 4000, maxQueued: 4000 } },
    }],
  };
}

function session(address: string): ClientHttp2Session {
  const opened = connectH2(`http://${address}`);
  opened.on('error', () => undefined);
  sessions.push(opened);
  return opened;
}

/** Resolves with the response head of `stream` (an empty one if it was reset first). */
function headOf(stream: ClientHttp2Stream): Promise<IncomingHttpHeaders> {
  stream.on('error', () => undefined);
  return new Promise((resolve) => {
    stream.once('response', (headers) => resolve(headers));
    stream.once('close', () => resolve({}));
  });
}

/** Response heads as they arrive: admitted uploads never get one, admitted downloads 200, refusals their error. */
const heads: IncomingHttpHeaders[] = [];

/** An upload that writes past every window on its way and then waits. */
function stalledUpload(client: ClientHttp2Session, i: number): void {
  const upload = client.request({ ':method': 'POST', ':path': `/upload/${i}` });
  upload.on('error', () => undefined);
  upload.once('response', (headers) => heads.push(headers));
  for (let written = 0; written < 512 * KiB; written += chunk.length) upload.write(chunk);
}

/** A download (gRPC-typed, so a refusal is RESOURCE_EXHAUSTED) that the client never reads. */
function stalledDownload(client: ClientHttp2Session, i: number): Promise<IncomingHttpHeaders> {
  const download = client.request({ ':method': 'GET', ':path': `/download/${i}`, 'content-type': 'application/grpc' });
  download.on('error', () => undefined);
  download.pause();
  download.once('response', (headers) => heads.push(headers));
  return headOf(download);
}

/** An HTTP/1.1 download whose body the client never reads; its response lands in `http1Responses`. */
const http1Responses: IncomingMessage[] = [];
function stalledHttp1Download(address: string, i: number): void {
  const { host, port } = splitAddress(address);
  const request = http.get({ host, port, path: `/download/h1/${i}`, agent: false }, (res) => {
    res.pause();
    http1Responses.push(res);
  });
  request.on('error', () => undefined);
  http1Requests.push(request);
}

function isRefusal(headers: IncomingHttpHeaders): boolean {
  return headers['x-meshlet-error'] !== undefined;
}

describe('the cap on requests in flight', () => {
  it('answers HTTP/1.1, h2c and gRPC past it with 503 MESHLET_OVERLOADED / RESOURCE_EXHAUSTED, counts them, and admits again once calls end', async () => {
    upstream = await stallingUpstream(1 * MiB);
    agent = await startAgent(agentConfig(upstream.address, { maxRequestsInFlight: 4 }));
    const address = agent.listeners['upstream:blobs']!;
    const client = session(address);
    const held = Array.from({ length: 4 }, (_, i) => stalledDownload(client, i));
    expect((await Promise.all(held)).map((h) => h[':status'])).toEqual([200, 200, 200, 200]);

    const http1 = await new Promise<{ status: number; code: string | undefined }>((resolve) => {
      const { host, port } = splitAddress(address);
      http.get({ host, port, path: '/plain', agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, code: res.headers['x-meshlet-error'] as string | undefined });
      });
    });
    const h2 = await headOf(client.request({ ':path': '/plain' }));
    const grpc = await headOf(client.request({ ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc' }, { endStream: true }));

    expect(http1).toEqual({ status: 503, code: 'MESHLET_OVERLOADED' });
    expect(h2[':status']).toBe(503);
    expect(h2['x-meshlet-error']).toBe('MESHLET_OVERLOADED');
    expect(grpc[':status']).toBe(200);
    expect(grpc['grpc-status']).toBe('8');
    expect(grpc['x-meshlet-error']).toBe('MESHLET_OVERLOADED');
    expect(upstream.requests).toBe(4);
    const metrics = await metricsText(agent);
    expect(sampleValue(metrics, 'meshlet_requests_refused_total', { listener: 'upstream:blobs', reason: 'overloaded' })).toBe(3);

    // The held responses are still unread; the client going away ends them and frees their places.
    client.destroy();
    expect(await eventually(() => upstream!.maxConcurrent === 4 && upstream!.requests === 4, 1000)).toBe(true);
    let after = { status: 0 };
    for (let tries = 0; tries < 50 && after.status !== 200; tries++) {
      after = await timedGet(address, '/after');
      if (after.status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(after.status).toBe(200);
  });

  it('bounds the agent\'s RSS over 300 connections of stalled uploads and unread downloads past the cap, and serves normally once they end', async () => {
    const cap = 1024;
    upstream = await stallingUpstream(4 * MiB);
    agent = await startAgent(agentConfig(upstream.address, { maxRequestsInFlight: cap }));
    const address = agent.listeners['upstream:blobs']!;
    expect((await timedGet(address, '/warm-up')).status).toBe(200);
    heads.length = 0;
    http1Responses.length = 0;
    const before = await residentBytes(agent.pid);
    const startedAt = performance.now();

    // 250 h2c connections × (2 uploads + 2 downloads) + 50 HTTP/1.1 downloads: 1,050 calls for 1,024 places.
    for (let c = 0; c < 250; c++) {
      const client = session(address);
      stalledUpload(client, 2 * c);
      stalledUpload(client, 2 * c + 1);
      void stalledDownload(client, 2 * c);
      void stalledDownload(client, 2 * c + 1);
    }
    for (let i = 0; i < 50; i++) stalledHttp1Download(address, i);
    const refusals = (): number => heads.filter(isRefusal).length + http1Responses.filter((res) => res.statusCode === 503).length;
    expect(await eventually(() => upstream!.requests >= cap + 1 && refusals() >= 1050 - cap, 15_000)).toBe(true);
    // Let the windows fill: every admitted call takes in what flow control lets it.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const grown = (await residentBytes(agent.pid)) - before;

    const metrics = await metricsText(agent);
    const refused = sampleValue(metrics, 'meshlet_requests_refused_total', { listener: 'upstream:blobs', reason: 'overloaded' });
    // The stated bound: per call, the client stream window + the upstream stream window (128 KiB
    // each) + 64 KiB of buffers; per connection, 32 KiB (an idle h2c session; HTTP/1.1 costs less).
    const bound = cap * (128 + 128 + 64) * KiB + 300 * 32 * KiB;
    console.log(`${cap} stalled calls over 300 connections: RSS grew ${(grown / MiB).toFixed(1)} MiB (bound ${(bound / MiB).toFixed(0)} MiB); refused ${refused}; upstream requests ${upstream.requests}, transparent retries ${sampleValue(metrics, 'meshlet_transparent_retries_total', { upstream: 'blobs' })}; ${((performance.now() - startedAt) / 1000).toFixed(1)} s to here`);
    expect(upstream.requests).toBe(cap + 1);
    expect(refused).toBe(1050 - cap);
    expect(refusals()).toBe(refused);
    expect(grown).toBeLessThan(bound);
    for (const head of heads.filter(isRefusal)) {
      expect(head['x-meshlet-error']).toBe('MESHLET_OVERLOADED');
      if (head['content-type'] === 'application/grpc') expect(head['grpc-status']).toBe('8');
      else expect(head[':status']).toBe(503);
    }
    for (const res of http1Responses.filter((r) => r.statusCode === 503)) expect(res.headers['x-meshlet-error']).toBe('MESHLET_OVERLOADED');

    // The stall ends: the clients go away, and the agent serves a normal request again.
    for (const opened of sessions.splice(0)) opened.destroy();
    for (const request of http1Requests.splice(0)) request.destroy();
    const recoveryFrom = performance.now();
    let normal = { status: 0, ms: 0 };
    for (let tries = 0; tries < 50 && normal.status !== 200; tries++) {
      normal = await timedGet(address, '/after');
      if (normal.status !== 200) {
        // Said at once: a run that times out here shows how each try ended (0: no answer within 10 s).
        console.log(`try ${tries + 1} after the stall: status ${normal.status} in ${normal.ms.toFixed(0)} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    console.log(`served normally again ${((performance.now() - recoveryFrom) / 1000).toFixed(1)} s after the stalled clients went away`);
    expect(normal.status).toBe(200);
    // 4–19 s alone on this machine, most of it the 1,050 calls filling their windows; over 30 s
    // once and over 60 s once (2026-12-02, past the log line above) in CI runs with the rest of
    // the suite beside it.
  }, 120_000);
});
