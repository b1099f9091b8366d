// Cancellation crosses the agent both ways: a client that gives up stops the upstream's work,
// and an upstream that breaks mid-response breaks the client's request instead of ending it
// as if it had finished.
import { connect as connectH2, type ClientHttp2Session } from 'node:http2';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { h2Request, h2Session, http1Stats, pollUntil, type UpstreamStats } from './http-support.ts';

let h1: SampleUpstream;
let h2c: SampleUpstream;
let agent: RunningAgent;
const dispatcher = new Agent();
const sessions: ClientHttp2Session[] = [];

type ClientKind = 'http1' | 'h2c';
type UpstreamName = 'plain' | 'multiplexed';

beforeAll(async () => {
  [h1, h2c] = await Promise.all([startUpstream({ kind: 'http1', id: 'cancel-h1' }), startUpstream({ kind: 'h2c', id: 'cancel-h2c' })]);
  agent = await startAgent({
    node: 'cancellation-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      { name: 'plain', protocol: 'http', listen: '127.0.0.1:0', endpoints: [h1.address] },
      { name: 'multiplexed', protocol: 'http2', listen: '127.0.0.1:0', endpoints: [h2c.address] },
    ],
  });
});

afterAll(async () => {
  for (const session of sessions) session.close();
  await dispatcher.close();
  await agent?.stop();
  await Promise.all([h1?.stop(), h2c?.stop()]);
});

function session(address: string): ClientHttp2Session {
  const opened = h2Session(address);
  sessions.push(opened);
  return opened;
}

/** The upstream's own counters, read directly, not through the agent. */
async function statsOf(upstream: UpstreamName): Promise<UpstreamStats> {
  if (upstream === 'plain') return http1Stats(h1.address);
  return JSON.parse((await h2Request(session(h2c.address), { ':path': '/_stats' })).body) as UpstreamStats;
}

/** Starts an endless streamed response, waits for its first bytes, then gives up on it. */
async function abandonStream(client: ClientKind, upstream: UpstreamName): Promise<void> {
  const address = agent.listeners[`upstream:${upstream}`]!;
  if (client === 'http1') {
    const controller = new AbortController();
    const res = await request(`http://${address}/stream`, { dispatcher, headers: { 'x-stream-ms': '10' }, signal: controller.signal });
    expect(res.statusCode).toBe(200);
    res.body.on('error', () => undefined);
    for await (const chunk of res.body) {
      expect(String(chunk)).toContain('partial response');
      break;
    }
    controller.abort();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const stream = session(address).request({ ':path': '/stream', 'x-stream-ms': '10' });
    stream.on('error', () => undefined);
    stream.once('data', () => {
      stream.close();
      resolve();
    });
    stream.once('close', () => reject(new Error('stream closed before any data')));
  });
}

/** Asks the upstream to reset after the first bytes; resolves with what the client made of it. */
async function outcomeOfReset(client: ClientKind, upstream: UpstreamName): Promise<{ status: number; error: string }> {
  const address = agent.listeners[`upstream:${upstream}`]!;
  if (client === 'http1') {
    try {
      const res = await request(`http://${address}/reset`, { dispatcher, headers: { 'x-reset': '1' } });
      try {
        await res.body.text();
        return { status: res.statusCode, error: '' };
      } catch (err) {
        return { status: res.statusCode, error: (err as Error).message };
      }
    } catch (err) {
      return { status: 0, error: (err as Error).message };
    }
  }
  return new Promise((resolve) => {
    const stream = session(address).request({ ':path': '/reset', 'x-reset': '1' });
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.resume();
    stream.on('error', (err) => resolve({ status, error: err.message }));
    stream.on('close', () => resolve({ status, error: stream.rstCode ? `RST_STREAM ${stream.rstCode}` : '' }));
  });
}

const pairs: [ClientKind, UpstreamName][] = [['http1', 'plain'], ['h2c', 'plain'], ['http1', 'multiplexed'], ['h2c', 'multiplexed']];

describe('a client that gives up', () => {
  for (const [client, upstream] of pairs) {
    it(`${client} client aborting a streamed response reaches the ${upstream === 'plain' ? 'HTTP/1.1' : 'HTTP/2'} upstream`, async () => {
      const before = await statsOf(upstream);
      await abandonStream(client, upstream);
      const after = await pollUntil(() => statsOf(upstream), (stats) => stats.aborted > before.aborted);
      expect(after.aborted).toBe(before.aborted + 1);
    });
  }
});

/** A body that sends 256 KiB and then stalls until the request is abandoned. */
async function* stallingBody(signal: AbortSignal): AsyncGenerator<Buffer> {
  for (let i = 0; i < 4; i++) yield Buffer.alloc(64 * 1024, 'u');
  await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
}

describe('an h2c client that resets with NO_ERROR while the agent waits on its flow control', () => {
  for (const upstream of ['plain', 'multiplexed'] as const) {
    it(`still cancels the ${upstream === 'plain' ? 'HTTP/1.1' : 'HTTP/2'} upstream`, async () => {
      const before = await statsOf(upstream);
      // A 100-byte window stalls the agent's writes almost at once; a stream reset with
      // NO_ERROR then never "closes" on the agent's side until those writes drain.
      const stalled = connectH2(`http://${agent.listeners[`upstream:${upstream}`]!}`, { settings: { initialWindowSize: 100 } });
      sessions.push(stalled);
      stalled.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        const stream = stalled.request({ ':path': '/stream', 'x-stream-ms': '1' });
        stream.on('error', () => undefined);
        stream.once('data', () => {
          stream.pause();
          void pollUntil(() => statsOf(upstream), () => false, 150).then(() => {
            stream.close();
            resolve();
          });
        });
      });
      const after = await pollUntil(() => statsOf(upstream), (stats) => stats.aborted > before.aborted);
      expect(after.aborted).toBe(before.aborted + 1);
    });
  }
});

describe('a client that gives up mid-upload', () => {
  for (const upstream of ['plain', 'multiplexed'] as const) {
    it(`leaves the ${upstream === 'plain' ? 'HTTP/1.1' : 'HTTP/2'} upstream with an aborted request, not a short complete body`, async () => {
      const before = await statsOf(upstream);
      const controller = new AbortController();
      const sending = request(`http://${agent.listeners[`upstream:${upstream}`]}/upload`, {
        dispatcher, method: 'PUT', headers: { 'x-count-body': '1' }, body: Readable.from(stallingBody(controller.signal)), signal: controller.signal,
      });
      sending.catch(() => undefined);
      // The upstream has the request once its request count moves.
      await pollUntil(() => statsOf(upstream), (stats) => stats.requests > before.requests);
      controller.abort();
      await expect(sending).rejects.toThrow();
      const after = await pollUntil(() => statsOf(upstream), (stats) => stats.aborted > before.aborted);
      expect(after.aborted).toBe(before.aborted + 1);
    });
  }
});

describe('an upstream that resets mid-response', () => {
  for (const [client, upstream] of pairs) {
    it(`${upstream === 'plain' ? 'HTTP/1.1' : 'HTTP/2'} upstream reset fails the ${client} client's request`, async () => {
      const outcome = await outcomeOfReset(client, upstream);
      // The 200 status line went out before the reset; what matters is the error, not a clean end.
      expect(outcome.error).not.toBe('');

      // And the agent keeps serving on the same port.
      const res = await request(`http://${agent.listeners[`upstream:${upstream}`]}/after`, { dispatcher });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    });
  }
});
