// What the fuzz run (bench/fuzz.ts) found, each case from a scripted upstream through a real
// agent: a cut-off response never passes for a whole one, every client gets an answer or a
// close promptly, and a session nghttp2 gave up fails fast. (Trailers node:http2 refuses after
// the body: test/unit/proxy/http2-sink-trailers.test.ts and proxy-call-guard.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameType } from '../helpers/h2-wire.ts';
import { CLIENT_KINDS, ProxyClients, type ClientKind, type Outcome } from '../helpers/proxy-clients.ts';
import { startScriptedAgent, type ScriptedAgent } from '../helpers/scripted-agent.ts';
import type { Http2Action } from '../helpers/scripted-upstreams.ts';
import { metricsText, rawExchange, rawHeader, rawStatus, sampleValue } from './http-support.ts';

/** Far longer than any of these cases may take: an answer that needed it is a failure. */
const CALL_TIMEOUT_MS = 10_000;
/** What "promptly" means here, with room for a loaded machine. */
const PROMPT_MS = 4_000;

let rig: ScriptedAgent;
const clients = new ProxyClients();

beforeAll(async () => {
  // connectTimeout also bounds the PING a quiet HTTP/2 session is checked with.
  rig = await startScriptedAgent('fuzz-findings-test', { timeout: `${CALL_TIMEOUT_MS}ms`, connectTimeout: '500ms' });
});

afterAll(async () => {
  await clients.close();
  await rig?.stop();
});

/** One request, with how long the agent took to answer or close. */
async function timed(client: ClientKind, upstream: string): Promise<{ outcome: Outcome; ms: number }> {
  const started = performance.now();
  const outcome = await clients.send(client, rig.agent.listeners[`upstream:${upstream}`]!, { path: '/finding' });
  return { outcome, ms: performance.now() - started };
}

async function errorCount(upstream: string, code: string): Promise<number> {
  return sampleValue(await metricsText(rig.agent), 'meshlet_upstream_errors_total', { upstream, code });
}

const head200: Http2Action = { kind: 'headers', fields: [[':status', '200'], ['content-type', 'text/plain']], endStream: false };
const whole200: Http2Action[] = [head200, { kind: 'data', bytes: Buffer.from('whole'), endStream: true }];

describe('an h2c upstream response that never ended', () => {
  const cutOffs: Array<[string, Http2Action[]]> = [
    ['HEADERS, then the TCP connection closed', [head200, { kind: 'close' }]],
    ['HEADERS and DATA, then the TCP connection closed', [head200, { kind: 'data', bytes: Buffer.from('part'), endStream: false }, { kind: 'close' }]],
    ['HEADERS and DATA, then RST_STREAM(CANCEL)', [head200, { kind: 'data', bytes: Buffer.from('part'), endStream: false }, { kind: 'rst', code: 8 }]],
  ];
  for (const [what, script] of cutOffs) {
    for (const upstream of ['raw-h2', 'raw-grpc']) {
      for (const client of CLIENT_KINDS) {
        it(`${what} (${upstream}): the ${client} client is cut off, not given a whole 200`, async () => {
          rig.h2.script = script;
          const before = await errorCount(upstream, 'MESHLET_UPSTREAM_RESET');
          const { outcome, ms } = await timed(client, upstream);
          expect(outcome.kind).toBe('reset');
          expect(ms).toBeLessThan(PROMPT_MS);
          expect(await errorCount(upstream, 'MESHLET_UPSTREAM_RESET')).toBe(before + 1);
        });
      }
    }
  }

  it('a response that did end with END_STREAM, then a close, is still relayed whole', async () => {
    rig.h2.script = [...whole200, { kind: 'goaway', code: 0 }, { kind: 'close' }];
    for (const client of ['http1', 'h2c'] as const) {
      const { outcome } = await timed(client, 'raw-h2');
      expect(outcome).toMatchObject({ kind: 'answer', status: 200, body: 'whole' });
    }
  });
});

describe('an HTTP/1.1 upstream sending 199, then 304 with a Trailer header, then RST', () => {
  for (const client of CLIENT_KINDS) {
    it(`the ${client} client gets an answer or a close promptly`, async () => {
      rig.h1.script = { response: Buffer.from('HTTP/1.1 199 Odd\r\n\r\nHTTP/1.1 304 X\r\ntrailer: x-checksum\r\ndate: today\r\n\r\n'), end: 'reset' };
      const { outcome, ms } = await timed(client, 'raw-h1');
      expect(ms).toBeLessThan(PROMPT_MS);
      expect(outcome).toMatchObject({ kind: 'answer', status: 304 });
    });
  }

  for (const status of ['204', '304']) {
    it(`an h2c upstream's ${status} with a Trailer header reaches an http1 client promptly`, async () => {
      rig.h2.script = [{ kind: 'headers', fields: [[':status', status], ['trailer', 'x-checksum']], endStream: false }, { kind: 'data', bytes: Buffer.alloc(0), endStream: true }];
      const { outcome, ms } = await timed('http1', 'raw-h2');
      expect(ms).toBeLessThan(PROMPT_MS);
      expect(outcome).toMatchObject({ kind: 'answer', status: Number(status) });
    });
  }
});

describe('frames that make nghttp2 give the session up without telling node:http2', () => {
  const broken: Array<[string, Http2Action]> = [
    ['a RST_STREAM frame of 5 bytes', { kind: 'frame', type: FrameType.RST_STREAM, flags: 0, payload: Buffer.from('12345') }],
    ['a CONTINUATION frame with no HEADERS before it', { kind: 'frame', type: 0x9, flags: 0x4, payload: Buffer.from('12345') }],
  ];
  for (const [what, frame] of broken) {
    for (const client of CLIENT_KINDS) {
      it(`${what} before the response: 502 MESHLET_BAD_UPSTREAM_RESPONSE to a ${client} client, fast, and the next request works`, async () => {
        rig.h2.script = [frame];
        const { outcome, ms } = await timed(client, 'raw-h2');
        expect(outcome).toMatchObject(client === 'grpc'
          ? { kind: 'answer', status: 200, grpcStatus: '14', code: 'MESHLET_BAD_UPSTREAM_RESPONSE' }
          : { kind: 'answer', status: 502, code: 'MESHLET_BAD_UPSTREAM_RESPONSE' });
        expect(ms).toBeLessThan(PROMPT_MS);
        rig.h2.script = whole200;
        expect((await timed(client, 'raw-h2')).outcome).toMatchObject({ kind: 'answer', status: 200, body: 'whole' });
      });
    }

    it(`${what} after the response head: the client is reset, fast`, async () => {
      rig.h2.script = [head200, frame];
      const { outcome, ms } = await timed('h2c', 'raw-h2');
      expect(outcome.kind).toBe('reset');
      expect(ms).toBeLessThan(PROMPT_MS);
    });
  }
});

describe('requests undici refuses to send', () => {
  it('OPTIONS * more times than the pool has connections: each gets 400 MESHLET_BAD_REQUEST, and ordinary requests still get through', async () => {
    // undici used to refuse these from inside dispatch and keep the connection it picked
    // marked busy; after 128 (connections.maxPerEndpoint) every request to the endpoint queued.
    const answers = await Promise.all(Array.from({ length: 140 }, () => rawExchange(rig.agent.listeners['upstream:healthy']!, 'OPTIONS * HTTP/1.1\r\nHost: healthy\r\nConnection: close\r\n\r\n')));
    for (const answer of answers) {
      expect(rawStatus(answer)).toBe(400);
      expect(rawHeader(answer, 'x-meshlet-error')).toBe('MESHLET_BAD_REQUEST');
    }
    const { outcome, ms } = await timed('http1', 'healthy');
    expect(outcome).toMatchObject({ kind: 'answer', status: 200 });
    expect(ms).toBeLessThan(PROMPT_MS);
  });
});
