// Peer input that used to end the agent process (issue 6, items 1-3 and out-of-range
// statuses): each case is sent to a real agent, which must answer it cleanly and go on serving.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, ProxyClients, type ClientKind, type Outcome } from '../helpers/proxy-clients.ts';
import { startScriptedAgent, type ScriptedAgent } from '../helpers/scripted-agent.ts';
import type { Http1Script, Http2Action, ScriptedUpstream } from '../helpers/scripted-upstreams.ts';
import { isAlive, type RunningAgent } from '../helpers/processes.ts';
import { metricsText, sampleValue, splitAddress } from './http-support.ts';

let rig: ScriptedAgent;
let h1: ScriptedUpstream<Http1Script>;
let h2: ScriptedUpstream<readonly Http2Action[]>;
let agent: RunningAgent;
const clients = new ProxyClients();

beforeAll(async () => {
  rig = await startScriptedAgent('crash-proofing-test', { timeout: '5s' }, { proxy: { listen: '127.0.0.1:0' } });
  ({ agent, h1, h2 } = rig);
});

afterAll(async () => {
  await clients.close();
  await rig?.stop();
});

/** The agent still runs and still proxies an ordinary request. */
async function expectServing(): Promise<void> {
  expect(isAlive(agent.pid)).toBe(true);
  const outcome = await clients.send('http1', agent.listeners['upstream:healthy']!, { path: '/still-there' });
  expect(outcome).toMatchObject({ kind: 'answer', status: 200 });
}

function via(client: ClientKind, upstream: string, path = '/x'): Promise<Outcome> {
  return clients.send(client, agent.listeners[`upstream:${upstream}`]!, { path });
}

const h2Response = (status: string, endStream = true): Http2Action[] => [
  { kind: 'headers', fields: [[':status', status], ['content-type', 'text/plain']], endStream },
];

describe('a CONNECT refusal the client resets', () => {
  it('404 MESHLET_UNKNOWN_HOST, then a TCP RST from the client, leaves the agent serving', async () => {
    const { host, port } = splitAddress(agent.listeners.proxy!);
    for (let i = 0; i < 3; i++) {
      const socket = net.connect({ host, port });
      socket.on('error', () => undefined);
      const answer = await new Promise<string>((resolve) => {
        let seen = '';
        socket.on('data', (chunk: Buffer) => {
          seen += chunk.toString('latin1');
          if (seen.includes('\r\n\r\n')) resolve(seen);
        });
        socket.write('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
      });
      expect(answer).toMatch(/^HTTP\/1\.1 404 /);
      expect(answer).toContain('x-meshlet-error: MESHLET_UNKNOWN_HOST');
      socket.resetAndDestroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expectServing();
  });
});

describe('hop-by-hop trailers from an HTTP/1.1 upstream', () => {
  for (const hop of ['Connection', 'Transfer-Encoding', 'Keep-Alive', 'Upgrade', 'TE']) {
    for (const client of CLIENT_KINDS) {
      it(`${hop} is dropped and the response relayed whole to a ${client} client`, async () => {
        h1.script = {
          response: Buffer.from(
            'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nTrailer: x-checksum, ' + hop + '\r\nTransfer-Encoding: chunked\r\n\r\n' +
              '5\r\nhello\r\n0\r\nx-checksum: abc\r\ngrpc-status: 0\r\n' + hop + ': gzip\r\n\r\n',
          ),
          end: 'close',
        };
        const outcome = await via(client, 'raw-h1');
        expect(outcome).toMatchObject({ kind: 'answer', status: 200, body: 'hello' });
        if (outcome.kind === 'answer') {
          expect(outcome.trailers[hop.toLowerCase()]).toBeUndefined();
          if (client !== 'http1') expect(outcome.trailers['x-checksum']).toBe('abc');
        }
        await expectServing();
      });
    }
  }
});

describe('a status no client may be given', () => {
  const h1Statuses = ['099', '000', '600', '999'];
  const h2Statuses = ['099', '000', '600', '999'];
  const upstreams: Array<[string, readonly string[], (status: string) => void]> = [
    ['raw-h1', h1Statuses, (status) => {
      h1.script = { response: Buffer.from(`HTTP/1.1 ${status} Odd\r\ncontent-length: 2\r\n\r\nok`), end: 'close' };
    }],
    ['raw-h2', h2Statuses, (status) => {
      h2.script = h2Response(status);
    }],
    ['raw-grpc', h2Statuses, (status) => {
      h2.script = h2Response(status);
    }],
  ];
  for (const [upstream, statuses, script] of upstreams) {
    for (const status of statuses) {
      for (const client of CLIENT_KINDS) {
        it(`${upstream} answering ${status}: ${client === 'grpc' ? 'UNAVAILABLE, trailers-only' : '502'} MESHLET_BAD_UPSTREAM_RESPONSE to a ${client} client`, async () => {
          script(status);
          const outcome = await via(client, upstream);
          if (client === 'grpc') {
            expect(outcome).toMatchObject({ kind: 'answer', status: 200, grpcStatus: '14', code: 'MESHLET_BAD_UPSTREAM_RESPONSE' });
          } else {
            expect(outcome).toMatchObject({ kind: 'answer', status: 502, code: 'MESHLET_BAD_UPSTREAM_RESPONSE' });
          }
          await expectServing();
        });
      }
    }
  }
});

describe('headers a client protocol cannot carry', () => {
  for (const client of ['h2c', 'grpc'] as const) {
    it(`two Content-Type fields from an HTTP/1.1 upstream: ${client === 'grpc' ? 'UNAVAILABLE' : '502'} MESHLET_BAD_UPSTREAM_RESPONSE to a ${client} client`, async () => {
      // HTTP/2 lets Content-Type occur once (node:http2 refuses to send two).
      h1.script = { response: Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nok'), end: 'keep' };
      const outcome = await via(client, 'raw-h1');
      expect(outcome).toMatchObject(client === 'grpc'
        ? { kind: 'answer', status: 200, grpcStatus: '14', code: 'MESHLET_BAD_UPSTREAM_RESPONSE' }
        : { kind: 'answer', status: 502, code: 'MESHLET_BAD_UPSTREAM_RESPONSE' });
      await expectServing();
    });
  }

  it('counts none of these as internal errors: each was handled where it arose', async () => {
    const text = await metricsText(agent);
    expect(sampleValue(text, 'meshlet_internal_errors_total', {})).toBe(0);
    expect(text).toContain('meshlet_internal_errors_total{site="http2_forwarder"} 0');
  });
});
