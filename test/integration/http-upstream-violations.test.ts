// Upstreams that break HTTP, and one that resets: what each client protocol gets, and the
// code the agent counts. A broken response is the upstream's fault (502), a reset after the
// session connected is a reset (503 MESHLET_UPSTREAM_RESET), never a connect failure: retries
// will act on connect failures, and the upstream may already have processed a reset request.
import type { ClientHttp2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { echoClient, unary, type EchoClient } from '../helpers/grpc-client.ts';
import { h2Request, h2Session, metricsText, sampleValue } from './http-support.ts';
import { FLAG, FRAME, h2Frame, hpackLiterals } from './h2-frames.ts';
import { rawHttp1Upstream, rawHttp2Upstream, type RawUpstream } from './misbehaving-upstreams.ts';

/** HPACK static table entry 8, `:status: 200`, as an indexed field. */
const STATUS_200 = Buffer.from([0x88]);
const NGHTTP2_INTERNAL_ERROR = 2;

const http1Answers: Readonly<Record<string, { bytes: string; close: boolean }>> = {
  '/overflow': { bytes: `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70 * 1024)}\r\ncontent-length: 0\r\n\r\n`, close: false },
  '/upgrade': { bytes: 'HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n', close: false },
  // Announced as the last message on the connection, so its end is the body's end: 3 bytes of
  // 10. (A keep-alive connection that closes mid-body is a cut-off, as when the upstream dies.)
  '/short': { bytes: 'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 10\r\n\r\nabc', close: true },
  '/no-content': { bytes: 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\nx-answer: none\r\n\r\n', close: false },
};

let h1Upstream: RawUpstream;
let h2Resets: RawUpstream;
let h2Malformed: RawUpstream;
let h2Short: RawUpstream;
let agent: RunningAgent;
const dispatcher = new Agent();
const sessions: ClientHttp2Session[] = [];
const grpcClients: EchoClient[] = [];

beforeAll(async () => {
  [h1Upstream, h2Resets, h2Malformed, h2Short] = await Promise.all([
    rawHttp1Upstream((path) => http1Answers[path] ?? { bytes: 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n', close: false }),
    rawHttp2Upstream((id) => [h2Frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, NGHTTP2_INTERNAL_ERROR]))]),
    // Upper case is malformed in HTTP/2 (RFC 9113 §8.2.1).
    rawHttp2Upstream((id) => [h2Frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, Buffer.concat([STATUS_200, hpackLiterals([['Bad-Name', 'x']])]))]),
    rawHttp2Upstream((id) => [
      h2Frame(FRAME.HEADERS, FLAG.END_HEADERS, id, Buffer.concat([STATUS_200, hpackLiterals([['content-length', '10']])])),
      h2Frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from('abc')),
    ]),
  ]);
  const upstream = (name: string, protocol: string, endpoint: string): object => ({ name, protocol, listen: '127.0.0.1:0', endpoints: [endpoint] });
  agent = await startAgent({
    node: 'violations-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      upstream('h1-overflow', 'http', h1Upstream.address),
      upstream('h1-upgrade', 'http', h1Upstream.address),
      upstream('h1-short', 'http', h1Upstream.address),
      upstream('h1-nocontent', 'http', h1Upstream.address),
      upstream('h2-reset', 'http2', h2Resets.address),
      upstream('h2-malformed', 'http2', h2Malformed.address),
      upstream('h2-short', 'http2', h2Short.address),
      upstream('grpc-reset', 'grpc', h2Resets.address),
      upstream('grpc-malformed', 'grpc', h2Malformed.address),
    ],
  });
});

afterAll(async () => {
  for (const session of sessions) session.close();
  for (const client of grpcClients) client.close();
  await dispatcher.close();
  await agent?.stop();
  await Promise.all([h1Upstream, h2Resets, h2Malformed, h2Short].map((u) => u?.close()));
});

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
}

async function viaHttp1(upstream: string, path: string): Promise<Answer> {
  const res = await request(`http://${agent.listeners[`upstream:${upstream}`]}${path}`, { dispatcher });
  await res.body.text();
  return { status: res.statusCode, code: res.headers['x-meshlet-error'] as string | undefined, headers: res.headers };
}

async function viaH2c(upstream: string, path: string): Promise<Answer> {
  const session = h2Session(agent.listeners[`upstream:${upstream}`]!);
  sessions.push(session);
  const res = await h2Request(session, { ':path': path });
  return { status: res.status, code: res.headers['x-meshlet-error'] as string | undefined, headers: res.headers };
}

async function viaGrpc(upstream: string): Promise<{ code: number; meshletError: grpc.MetadataValue[] }> {
  const client = echoClient(agent.listeners[`upstream:${upstream}`]!);
  grpcClients.push(client);
  const error = await unary(client, { message: 'x' }).then(() => undefined, (e: unknown) => e as grpc.ServiceError);
  if (!error) throw new Error('the call succeeded');
  return { code: error.code, meshletError: error.metadata.get('x-meshlet-error') };
}

const clients = { http1: viaHttp1, h2c: viaH2c };

async function errorCount(upstream: string, code: string): Promise<number> {
  return sampleValue(await metricsText(agent), 'meshlet_upstream_errors_total', { upstream, code });
}

describe('an upstream response that breaks HTTP', () => {
  for (const [clientName, send] of Object.entries(clients)) {
    it(`502 MESHLET_BAD_UPSTREAM_RESPONSE for an HTTP/1.1 response head over the header size limit (${clientName} client)`, async () => {
      expect(await send('h1-overflow', '/overflow')).toMatchObject({ status: 502, code: 'MESHLET_BAD_UPSTREAM_RESPONSE' });
    });

    it(`502 MESHLET_BAD_UPSTREAM_RESPONSE for a 101 the request did not ask for (${clientName} client)`, async () => {
      expect(await send('h1-upgrade', '/upgrade')).toMatchObject({ status: 502, code: 'MESHLET_BAD_UPSTREAM_RESPONSE' });
    });

    it(`502 MESHLET_BAD_UPSTREAM_RESPONSE for an HTTP/2 response with an upper-case header name (${clientName} client)`, async () => {
      expect(await send('h2-malformed', '/x')).toMatchObject({ status: 502, code: 'MESHLET_BAD_UPSTREAM_RESPONSE' });
    });

    it(`503 MESHLET_UPSTREAM_RESET, not a connect failure, when a connected HTTP/2 upstream resets the stream (${clientName} client)`, async () => {
      expect(await send('h2-reset', '/x')).toMatchObject({ status: 503, code: 'MESHLET_UPSTREAM_RESET' });
    });

    it(`a 204 with a Content-Length reaches the client as a 204 without one (${clientName} client)`, async () => {
      const answer = await send('h1-nocontent', '/no-content');
      expect(answer).toMatchObject({ status: 204, code: undefined });
      expect(answer.headers['x-answer']).toBe('none');
      expect(answer.headers['content-length']).toBeUndefined();
    });
  }

  it('gRPC: UNAVAILABLE typed MESHLET_UPSTREAM_RESET for a reset, MESHLET_BAD_UPSTREAM_RESPONSE for a malformed header block', async () => {
    expect(await viaGrpc('grpc-reset')).toEqual({ code: grpc.status.UNAVAILABLE, meshletError: ['MESHLET_UPSTREAM_RESET'] });
    expect(await viaGrpc('grpc-malformed')).toEqual({ code: grpc.status.UNAVAILABLE, meshletError: ['MESHLET_BAD_UPSTREAM_RESPONSE'] });
  });

  it('a body shorter than its Content-Length is cut off at the client and counted as a bad response, for both upstream protocols', async () => {
    for (const [upstream, path] of [['h1-short', '/short'], ['h2-short', '/x']] as const) {
      await expect(viaHttp1(upstream, path)).rejects.toThrow();
      await expect(viaH2c(upstream, path)).rejects.toThrow();
      expect(await errorCount(upstream, 'MESHLET_BAD_UPSTREAM_RESPONSE')).toBe(2);
    }
  });

  it('counts each answer above under its code and never as a connect failure', async () => {
    for (const upstream of ['h1-overflow', 'h1-upgrade', 'h2-malformed']) expect(await errorCount(upstream, 'MESHLET_BAD_UPSTREAM_RESPONSE')).toBe(2);
    expect(await errorCount('h2-reset', 'MESHLET_UPSTREAM_RESET')).toBe(2);
    for (const upstream of ['h2-reset', 'grpc-reset', 'h2-malformed', 'grpc-malformed']) expect(await errorCount(upstream, 'MESHLET_CONNECT_FAILED')).toBe(0);
    expect(await errorCount('h1-nocontent', 'MESHLET_BAD_UPSTREAM_RESPONSE')).toBe(0);
  });
});
