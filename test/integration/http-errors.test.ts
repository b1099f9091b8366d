// The errors the agent makes itself, as a client sees them: status, x-meshlet-error code,
// and the count in /metrics an operator alerts on.
import type { ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { h2Request, h2Session, metricsText, sampleValue, unusedPort } from './http-support.ts';

let slowH1: SampleUpstream;
let slowH2c: SampleUpstream;
let garbage: net.Server;
let agent: RunningAgent;
const dispatcher = new Agent();
const sessions: ClientHttp2Session[] = [];

/** A TCP server that answers anything with a line that is no HTTP at all. */
function startGarbageServer(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end('garbage\r\n\r\n'));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  let nothing: number;
  [slowH1, slowH2c, garbage, nothing] = await Promise.all([
    startUpstream({ kind: 'http1', id: 'slow-h1' }),
    startUpstream({ kind: 'h2c', id: 'slow-h2c' }),
    startGarbageServer(),
    unusedPort(),
  ]);
  const garbageAddress = `127.0.0.1:${(garbage.address() as net.AddressInfo).port}`;
  const upstream = (name: string, protocol: string, endpoint: string, policy: object = {}): object => ({
    name, protocol, listen: '127.0.0.1:0', endpoints: [endpoint], policy,
  });
  agent = await startAgent({
    node: 'errors-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      upstream('gone', 'http', `127.0.0.1:${nothing}`),
      upstream('gone2', 'http2', `127.0.0.1:${nothing}`),
      upstream('slow', 'http', slowH1.address, { timeout: '300ms' }),
      upstream('slow2', 'http2', slowH2c.address, { timeout: '300ms' }),
      upstream('garbage', 'http', garbageAddress),
      upstream('garbage2', 'http2', garbageAddress),
    ],
  });
});

afterAll(async () => {
  for (const session of sessions) session.close();
  await dispatcher.close();
  await agent?.stop();
  await Promise.all([slowH1?.stop(), slowH2c?.stop()]);
  await new Promise((resolve) => garbage?.close(resolve));
});

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
  readonly body: string;
}

async function viaHttp1(upstream: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(`http://${agent.listeners[`upstream:${upstream}`]}/x`, { dispatcher, headers });
  return { status: res.statusCode, code: res.headers['x-meshlet-error'] as string | undefined, body: await res.body.text() };
}

async function viaH2c(upstream: string, headers: Record<string, string> = {}): Promise<Answer> {
  const session = h2Session(agent.listeners[`upstream:${upstream}`]!);
  sessions.push(session);
  const res = await h2Request(session, { ':path': '/x', ...headers });
  return { status: res.status, code: res.headers['x-meshlet-error'] as string | undefined, body: res.body };
}

const clients = { http1: viaHttp1, h2c: viaH2c };

describe('errors the agent answers with', () => {
  for (const [clientName, send] of Object.entries(clients)) {
    for (const [upstream, wire] of [['gone', 'HTTP/1.1'], ['gone2', 'HTTP/2']]) {
      it(`503 MESHLET_CONNECT_FAILED when nothing listens at the ${wire} endpoint (${clientName} client)`, async () => {
        const answer = await send(upstream!);
        expect(answer).toMatchObject({ status: 503, code: 'MESHLET_CONNECT_FAILED' });
        expect(answer.body).toContain(upstream!);
      });
    }

    for (const [upstream, wire] of [['slow', 'HTTP/1.1'], ['slow2', 'HTTP/2']]) {
      it(`504 MESHLET_UPSTREAM_TIMEOUT when the ${wire} upstream outlasts policy.timeout (${clientName} client)`, async () => {
        const started = performance.now();
        const answer = await send(upstream!, { 'x-delay-ms': '2000' });
        const elapsed = performance.now() - started;
        expect(answer).toMatchObject({ status: 504, code: 'MESHLET_UPSTREAM_TIMEOUT' });
        expect(elapsed).toBeGreaterThanOrEqual(250);
        expect(elapsed).toBeLessThan(1500);
      });
    }

    for (const [upstream, wire] of [['garbage', 'HTTP/1.1'], ['garbage2', 'HTTP/2']]) {
      it(`502 MESHLET_BAD_UPSTREAM_RESPONSE when the ${wire} endpoint speaks no HTTP (${clientName} client)`, async () => {
        expect(await send(upstream!)).toMatchObject({ status: 502, code: 'MESHLET_BAD_UPSTREAM_RESPONSE' });
      });
    }
  }

  it('counts each error by upstream and code in /metrics', async () => {
    const text = await metricsText(agent);
    const errors = (upstream: string, code: string): number => sampleValue(text, 'meshlet_upstream_errors_total', { upstream, code });
    // Each upstream was called once by each of the two clients above.
    expect(errors('gone', 'MESHLET_CONNECT_FAILED')).toBe(2);
    expect(errors('gone2', 'MESHLET_CONNECT_FAILED')).toBe(2);
    expect(errors('slow', 'MESHLET_UPSTREAM_TIMEOUT')).toBe(2);
    expect(errors('slow2', 'MESHLET_UPSTREAM_TIMEOUT')).toBe(2);
    expect(errors('garbage', 'MESHLET_BAD_UPSTREAM_RESPONSE')).toBe(2);
    expect(errors('garbage2', 'MESHLET_BAD_UPSTREAM_RESPONSE')).toBe(2);
    expect(sampleValue(text, 'meshlet_requests_total', { upstream: 'garbage', protocol: 'http1', status_class: '5xx' })).toBe(2);
  });

  it('answers 503 to requests that carry a body too, one after another', async () => {
    const address = agent.listeners['upstream:gone']!;
    for (let i = 0; i < 2; i++) {
      const res = await request(`http://${address}/upload`, { dispatcher, method: 'POST', body: 'x'.repeat(64 * 1024) });
      expect(res.statusCode).toBe(503);
      expect(res.headers['x-meshlet-error']).toBe('MESHLET_CONNECT_FAILED');
      await res.body.dump();
    }
    const session = h2Session(address);
    sessions.push(session);
    const res = await h2Request(session, { ':method': 'POST', ':path': '/upload' }, 'y'.repeat(1024));
    expect(res.status).toBe(503);
  });
});
