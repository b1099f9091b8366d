// What the Node 20 fuzz run found once its connections had lived a while (issue 6, item 4): a
// client connection in steady use had its uploads cancelled as stalled, the RST_STREAM of such
// a cancel never left, and an upstream HTTP/2 session whose connect had timed out ended the
// agent when that TCP connect completed after all.
import { spawn, type ChildProcess } from 'node:child_process';
import http2, { connect as connectH2, type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, startAgent, type RunningAgent } from '../helpers/processes.ts';
import { ProxyClients } from '../helpers/proxy-clients.ts';
import { rawStatus } from './http-support.ts';
import { countingHttp1Upstream, eventually, rawConnection, type CountingUpstream, type RawConnection } from './limits-support.ts';

/** A quarter of it is the agent's sweep period; a few sweeps fit in the pauses below. */
const BODY_IDLE_TIMEOUT_MS = 1_000;
/** Longer than the body idle timeout: a connection that sat idle this long is not stalled for it. */
const IDLE_PAUSE_MS = 1_600;
/** Shorter than the body idle timeout: an upload pausing this long is slow, not stalled. */
const UPLOAD_PAUSE_MS = 500;

let agent: RunningAgent | undefined;
let upstream: CountingUpstream | undefined;
const cleanups: Array<() => void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await agent?.stop();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Answers once the whole request body is in, with its length. */
async function bodyCountingUpstream(): Promise<CountingUpstream> {
  return countingHttp1Upstream((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.once('end', () => res.end(`got ${bytes} bytes`));
  });
}

async function startCatalogAgent(): Promise<string> {
  upstream = await bodyCountingUpstream();
  agent = await startAgent({
    node: 'long-lived-test',
    admin: { listen: '127.0.0.1:0' },
    listeners: { bodyIdleTimeout: `${BODY_IDLE_TIMEOUT_MS}ms` },
    upstreams: [{ name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address] }],
  });
  return agent.listeners['upstream:catalog']!;
}

function h2Client(address: string): ClientHttp2Session {
  const session = connectH2(`http://${address}`);
  session.on('error', () => undefined);
  cleanups.push(() => session.destroy());
  return session;
}

/** What an h2 request stream ended with: its response and body, or the RST_STREAM code it was closed with. */
function outcomeOf(stream: http2.ClientHttp2Stream): Promise<{ status?: number; body: string; rstCode?: number }> {
  return new Promise((resolve) => {
    let status: number | undefined;
    let body = '';
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    stream.on('error', () => undefined);
    stream.once('close', () => resolve({ status, body, ...(stream.rstCode ? { rstCode: stream.rstCode } : {}) }));
  });
}

describe('an upload that pauses briefly, on a connection that sat idle longer than bodyIdleTimeout', () => {
  it('over h2c, is answered: the idle time before it is not counted as its stall', async () => {
    const address = await startCatalogAgent();
    const session = h2Client(address);
    await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
    await sleep(IDLE_PAUSE_MS);
    const stream = session.request({ ':method': 'POST', ':path': '/upload' });
    const outcome = outcomeOf(stream);
    stream.write('first half, ');
    await sleep(UPLOAD_PAUSE_MS);
    stream.end('second half');
    expect(await outcome).toEqual({ status: 200, body: 'got 23 bytes' });
  });

  it('over HTTP/1.1 keep-alive, is answered, not refused with 408', async () => {
    const address = await startCatalogAgent();
    const client: RawConnection = await rawConnection(address);
    cleanups.push(() => client.socket.destroy());
    client.socket.write('GET /first HTTP/1.1\r\nHost: catalog\r\n\r\n');
    expect(await eventually(() => client.received().includes('got 0 bytes'), 5_000)).toBe(true);
    await sleep(IDLE_PAUSE_MS);
    client.socket.write('POST /upload HTTP/1.1\r\nHost: catalog\r\nContent-Length: 23\r\n\r\nfirst half, ');
    await sleep(UPLOAD_PAUSE_MS);
    client.socket.write('second half');
    expect(await eventually(() => client.received().includes('got 23 bytes') || client.isClosed(), 5_000)).toBe(true);
    const responses = client.received().split(/(?=HTTP\/1\.1 )/);
    expect(responses.map(rawStatus)).toEqual([200, 200]);
    expect(responses[1]).toContain('got 23 bytes');
  });

  it('over h2c, a gRPC-style client making calls back to back for longer than bodyIdleTimeout gets every answer', async () => {
    const address = await startCatalogAgent();
    const clients = new ProxyClients();
    cleanups.push(() => void clients.close());
    const until = performance.now() + 3 * BODY_IDLE_TIMEOUT_MS;
    const outcomes = new Map<string, number>();
    for (let calls = 0; performance.now() < until && calls < 5_000; calls++) {
      const outcome = await clients.send('h2c', address, { path: '/call', body: 'x' });
      const seen = outcome.kind === 'answer' ? `${outcome.status} ${outcome.body}` : `reset ${outcome.error}`;
      outcomes.set(seen, (outcomes.get(seen) ?? 0) + 1);
    }
    expect([...outcomes.keys()]).toEqual(['200 got 1 bytes']);
  });
});

describe('an h2c upload that does stall past bodyIdleTimeout', () => {
  it('is reset with RST_STREAM(CANCEL), which reaches the client', async () => {
    const address = await startCatalogAgent();
    const session = h2Client(address);
    const stream = session.request({ ':method': 'POST', ':path': '/upload' });
    const outcome = outcomeOf(stream);
    stream.write('and then nothing more');
    const closed = await Promise.race([outcome, sleep(6 * BODY_IDLE_TIMEOUT_MS).then(() => 'no RST_STREAM within 6 s' as const)]);
    expect(closed).toEqual({ body: '', rstCode: http2.constants.NGHTTP2_CANCEL });
  });
});

/**
 * A listener that cannot complete TCP handshakes for `blockedMs`: a child process listens with
 * a backlog of 1 and blocks its event loop, `fillers` connections fill its accept queue, and
 * the kernel drops further SYNs until the child accepts again (the client retries after ~1 s).
 */
async function listenerThatStalls(blockedMs: number): Promise<{ address: string; accepted: () => number; child: ChildProcess }> {
  const script = `const net = require('node:net'); let accepted = 0;
    const server = net.createServer((c) => { c.on('error', () => {}); process.stdout.write('accepted ' + ++accepted + '\\n'); });
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      process.stdout.write('port ' + server.address().port + '\\n');
      const until = Date.now() + ${blockedMs}; while (Date.now() < until);
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill('SIGKILL'));
  let accepted = 0;
  const port = await new Promise<number>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line.startsWith('port ')) resolve(Number(line.slice(5)));
        if (line.startsWith('accepted ')) accepted = Number(line.slice(9));
      }
    });
  });
  for (let i = 0; i < 4; i++) {
    const filler = net.connect({ host: '127.0.0.1', port }).on('error', () => undefined);
    cleanups.push(() => filler.destroy());
  }
  return { address: `127.0.0.1:${port}`, accepted: () => accepted, child };
}

describe('an h2c endpoint whose TCP connect completes only after the connect timeout', () => {
  it('answers 503, and the agent survives the late connect and serves on', async () => {
    const stalled = await listenerThatStalls(1_500);
    upstream = await bodyCountingUpstream();
    agent = await startAgent({
      node: 'late-connect-test',
      admin: { listen: '127.0.0.1:0' },
      upstreams: [
        { name: 'slow-h2', protocol: 'http2', listen: '127.0.0.1:0', endpoints: [stalled.address], policy: { connectTimeout: '200ms', timeout: '5s' } },
        { name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address] },
      ],
    });
    const clients = new ProxyClients();
    cleanups.push(() => void clients.close());
    expect(await clients.send('http1', agent.listeners['upstream:slow-h2']!, { path: '/late' })).toMatchObject({ kind: 'answer', status: 503, code: 'MESHLET_CONNECT_FAILED' });
    // The four fillers and the agent's connection, once the child accepts again and the agent's SYN is retried.
    expect(await eventually(() => stalled.accepted() >= 5, 10_000)).toBe(true);
    await sleep(500);
    expect(isAlive(agent.pid)).toBe(true);
    expect(await clients.send('http1', agent.listeners['upstream:catalog']!, { path: '/after' })).toMatchObject({ kind: 'answer', status: 200, body: 'got 0 bytes' });
  });
});
