// Requests the agent refuses are refused in its own words: a status that says why, the
// x-meshlet-error code, and a count in meshlet_malformed_requests_total{listener,reason};
// none of them reaches the upstream. Where HTTP/2 leaves no answer to send (nghttp2 resets a
// malformed stream before the agent sees it), the refusal is still counted.
import type { ClientHttp2Session, OutgoingHttpHeaders } from 'node:http2';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import net from 'node:net';
import { FLAG, FRAME, h2Frame, hpackLiterals, rawH2Requests } from './h2-frames.ts';
import { h2Request, h2Session, http1Stats, metricsText, pollUntil, rawExchange, rawHeader, rawStatus, sampleValue, splitAddress } from './http-support.ts';

const LISTENER = 'upstream:strict';
const NGHTTP2_PROTOCOL_ERROR = 1;
const NGHTTP2_ENHANCE_YOUR_CALM = 11;

let upstream: SampleUpstream;
let agent: RunningAgent;
let address: string;
const sessions: ClientHttp2Session[] = [];

beforeAll(async () => {
  upstream = await startUpstream({ kind: 'http1', id: 'strict' });
  agent = await startAgent({
    node: 'refusals-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [{ name: 'strict', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address] }],
  });
  address = agent.listeners[LISTENER]!;
});

afterAll(async () => {
  for (const session of sessions) session.close();
  await agent?.stop();
  await upstream?.stop();
});

async function refusedCount(reason: string): Promise<number> {
  return sampleValue(await metricsText(agent), 'meshlet_malformed_requests_total', { listener: LISTENER, reason });
}

function headerLines(count: number): string {
  let lines = '';
  for (let i = 0; i < count; i++) lines += `x-field-${i}: ${i}\r\n`;
  return lines;
}

function h2Headers(count: number): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ':path': '/many' };
  for (let i = 0; i < count; i++) headers[`x-field-${i}`] = String(i);
  return headers;
}

function session(): ClientHttp2Session {
  const opened = h2Session(address);
  sessions.push(opened);
  return opened;
}

const http1Cases = [
  { what: 'an HTTP/1.1 request without Host', bytes: 'GET /x HTTP/1.1\r\n\r\n', status: 400, reason: 'missing_host' },
  { what: 'two Host headers', bytes: 'GET /x HTTP/1.1\r\nhost: strict\r\nhost: other\r\n\r\n', status: 400, reason: 'duplicate_host' },
  { what: 'an HTTP/2.0 request line', bytes: 'GET /x HTTP/2.0\r\nhost: strict\r\n\r\n', status: 505, reason: 'unsupported_version' },
  { what: 'an HTTP/3.0 request line', bytes: 'GET /x HTTP/3.0\r\nhost: strict\r\n\r\n', status: 505, reason: 'unsupported_version' },
  { what: 'an HTTP/0.9 request', bytes: 'GET /x\r\n\r\n', status: 400, reason: 'http09' },
  { what: 'an HTTP/0.9 request line', bytes: 'GET /x HTTP/0.9\r\n\r\n', status: 400, reason: 'http09' },
  {
    // Host and 100 more: one over the limit (node alone would forward the first 1 000 of any number, silently).
    what: '101 header fields',
    bytes: `GET /x HTTP/1.1\r\nhost: strict\r\n${headerLines(100)}\r\n`,
    status: 431,
    reason: 'too_many_headers',
  },
];

describe('HTTP/1.1 requests the agent refuses', () => {
  for (const { what, bytes, status, reason } of http1Cases) {
    it(`${status} MESHLET_BAD_REQUEST for ${what}, counted as ${reason}, nothing forwarded`, async () => {
      const counted = await refusedCount(reason);
      const before = await http1Stats(upstream.address);
      const response = await rawExchange(address, bytes);
      expect(rawStatus(response)).toBe(status);
      expect(rawHeader(response, 'x-meshlet-error')).toBe('MESHLET_BAD_REQUEST');
      expect(await refusedCount(reason)).toBe(counted + 1);
      expect((await http1Stats(upstream.address)).requests).toBe(before.requests);
      // The connection was closed; a well-formed request on a new one is served.
      const res = await request(`http://${address}/after`);
      expect(res.statusCode).toBe(200);
      await res.body.dump();
    });
  }

  it('forwards 100 header fields, the limit, and refuses 101', async () => {
    const atLimit = await rawExchange(address, `GET /x HTTP/1.1\r\nhost: strict\r\n${headerLines(98)}connection: close\r\n\r\n`);
    expect(rawStatus(atLimit)).toBe(200);
    const forwarded = JSON.parse(atLimit.slice(atLimit.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> };
    expect(forwarded.headers['x-field-97']).toBe('97');
    const overLimit = await rawExchange(address, `GET /x HTTP/1.1\r\nhost: strict\r\n${headerLines(99)}connection: close\r\n\r\n`);
    expect(rawStatus(overLimit)).toBe(431);
  });
});

describe('HTTP/2 requests the agent refuses', () => {
  it('431 MESHLET_BAD_REQUEST for more than 100 header fields, counted', async () => {
    const counted = await refusedCount('too_many_headers');
    const res = await h2Request(session(), h2Headers(150));
    expect(res.status).toBe(431);
    expect(res.headers['x-meshlet-error']).toBe('MESHLET_BAD_REQUEST');
    expect(await refusedCount('too_many_headers')).toBe(counted + 1);
    expect((await h2Request(session(), h2Headers(100))).status).toBe(200);
  });

  it('400 MESHLET_BAD_REQUEST for CONNECT, which would otherwise be forwarded as a request', async () => {
    const counted = await refusedCount('http2_connect');
    const res = await h2Request(session(), { ':method': 'CONNECT', ':authority': 'strict:443' });
    expect(res.status).toBe(400);
    expect(res.headers['x-meshlet-error']).toBe('MESHLET_BAD_REQUEST');
    expect(await refusedCount('http2_connect')).toBe(counted + 1);
  });

  it('counts the streams nghttp2 resets before the agent sees them, between streams and at the end of the connection', async () => {
    const counted = await refusedCount('http2_stream_rejected');
    const before = await http1Stats(upstream.address);
    const request = (...extra: (readonly [string, string])[]): Buffer =>
      hpackLiterals([[':method', 'GET'], [':scheme', 'http'], [':authority', 'strict'], [':path', '/raw'], ...extra]);
    const tooMany: [string, string][] = [];
    for (let i = 0; i < 500; i++) tooMany.push([`x-${i}`, 'v']);
    const { host, port } = splitAddress(address);
    const outcomes = await rawH2Requests(host, port, [
      request(['Upper-Case', 'v']),
      request(['connection', 'keep-alive']),
      request(),
      hpackLiterals([[':method', 'GET'], [':scheme', 'http'], [':authority', 'strict']]),
      request(...tooMany),
    ]);
    expect(outcomes.map((o) => o.rstCode)).toEqual([NGHTTP2_PROTOCOL_ERROR, NGHTTP2_PROTOCOL_ERROR, undefined, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_ENHANCE_YOUR_CALM]);
    expect(outcomes[2]!.responded).toBe(true);
    const after = await pollUntil(() => refusedCount('http2_stream_rejected'), (count) => count === counted + 4);
    expect(after).toBe(counted + 4);
    expect((await http1Stats(upstream.address)).requests).toBe(before.requests + 1);
  });

  it('a client that jumps to stream 2^31-1 after a refused stream is counted at once and never stalls the agent', async () => {
    const { host, port } = splitAddress(address);
    const block = (...extra: (readonly [string, string])[]): Buffer =>
      hpackLiterals([[':method', 'GET'], [':scheme', 'http'], [':authority', 'strict'], [':path', '/raw'], ...extra]);
    const socket = net.connect({ host, port });
    socket.on('error', () => undefined);
    socket.write(Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      h2Frame(FRAME.SETTINGS, 0, 0),
      h2Frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, block(['Upper-Case', 'v'])),
      h2Frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 0x7fffffff, block()),
    ]));
    try {
      // Counting the gap one increment at a time kept the event loop busy for minutes.
      const started = Date.now();
      const res = await request(`http://${address}/after`, { headersTimeout: 5_000 });
      await res.body.text();
      expect(res.statusCode).toBe(200);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      socket.destroy();
    }
  });
});
