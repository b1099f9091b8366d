// Malformed HTTP/1.1 written on raw sockets: the agent refuses it with the right status,
// counts it, forwards none of it, and goes on serving well-formed requests.
import net from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { http1Stats, metricsText, pollUntil, rawExchange, rawHeader, rawStatus, sampleValue, splitAddress, type UpstreamStats } from './http-support.ts';

let upstream: SampleUpstream;
let agent: RunningAgent;
let address: string;

beforeAll(async () => {
  upstream = await startUpstream({ kind: 'http1', id: 'strict' });
  agent = await startAgent({
    node: 'malformed-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [{ name: 'strict', protocol: 'http', listen: '127.0.0.1:0', endpoints: [upstream.address] }],
  });
  address = agent.listeners['upstream:strict']!;
});

afterAll(async () => {
  await agent?.stop();
  await upstream?.stop();
});

async function malformedCount(reason: string): Promise<number> {
  return sampleValue(await metricsText(agent), 'meshlet_malformed_requests_total', { listener: 'upstream:strict', reason });
}

const cases = [
  {
    what: 'both Content-Length and Transfer-Encoding',
    status: 400,
    reason: 'conflicting_length',
    rejectedAtHeaders: true,
    bytes: 'POST /smuggle HTTP/1.1\r\nhost: strict\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\nhost: strict\r\n\r\n',
  },
  {
    what: 'an 80 KB header',
    status: 431,
    reason: 'header_overflow',
    rejectedAtHeaders: true,
    bytes: `GET /big HTTP/1.1\r\nhost: strict\r\nx-big: ${'a'.repeat(80 * 1024)}\r\n\r\n`,
  },
  {
    what: 'an invalid chunk size',
    status: 400,
    reason: 'bad_chunking',
    // The body streams: its headers may have gone upstream before the bad chunk came.
    rejectedAtHeaders: false,
    bytes: 'POST /chunks HTTP/1.1\r\nhost: strict\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
  },
  {
    what: 'an invalid chunk size after a valid chunk',
    status: 400,
    reason: 'bad_chunking',
    rejectedAtHeaders: false,
    bytes: 'POST /chunks HTTP/1.1\r\nhost: strict\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nhello\r\n0\r\n\r\n',
  },
];

/** Writes `first`, waits until the response has begun, writes `second`; resolves with all read until close. */
function exchangeInTwoParts(first: string, second: string): Promise<{ beforeSecond: string; all: string }> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let read = '';
    let beforeSecond = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 5 s; read: ${read}`));
    }, 5_000);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      read += chunk.toString('latin1');
      if (!beforeSecond && read.includes('\r\n\r\n')) {
        beforeSecond = read;
        socket.write(second);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ beforeSecond, all: read });
    });
    socket.write(first);
  });
}

describe('malformed requests on raw sockets', () => {
  it('cuts the connection, writing nothing into it, when a bad chunk follows a response already under way', async () => {
    const countedBefore = await malformedCount('bad_chunking');
    const { beforeSecond, all } = await exchangeInTwoParts(
      'POST /echo HTTP/1.1\r\nhost: strict\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n',
      'zz\r\nhello\r\n0\r\n\r\n',
    );
    expect(rawStatus(beforeSecond)).toBe(200);
    // No second status line lands in the middle of the echoed body.
    expect(all.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(await malformedCount('bad_chunking')).toBe(countedBefore + 1);
  });

  for (const { what, status, reason, bytes, rejectedAtHeaders } of cases) {
    it(`answers ${status} to ${what}, counts it, and keeps serving`, async () => {
      const countedBefore = await malformedCount(reason);
      const upstreamBefore = await http1Stats(upstream.address);

      const response = await rawExchange(address, bytes);
      expect(rawStatus(response)).toBe(status);
      expect(rawHeader(response, 'x-meshlet-error')).toBe('MESHLET_BAD_REQUEST');
      expect(await malformedCount(reason)).toBe(countedBefore + 1);
      // No request smuggled behind it reached the upstream, nor the refused one itself.
      if (rejectedAtHeaders) expect((await http1Stats(upstream.address)).requests).toBe(upstreamBefore.requests);

      const res = await request(`http://${address}/after`);
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toMatchObject({ instance: 'strict', path: '/after' });
      // Whatever was started upstream was aborted: only the well-formed request completed.
      const completed = (stats: UpstreamStats): number => stats.requests - stats.aborted;
      const after = await pollUntil(() => http1Stats(upstream.address), (stats) => completed(stats) === completed(upstreamBefore) + 1);
      expect(completed(after)).toBe(completed(upstreamBefore) + 1);
    });
  }
});
