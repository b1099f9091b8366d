// Bodies go through the agent as streams: 100 MB up and down without the agent's memory
// growing by anything like that, and trailers arrive at the client whichever protocols meet.
import type { ClientHttp2Session } from 'node:http2';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startUpstream, type RunningAgent, type SampleUpstream } from '../helpers/processes.ts';
import { h2Request, h2Session, residentBytes } from './http-support.ts';

const megabyte = 1024 * 1024;
const bulkBytes = 100 * megabyte;
/** How much the agent's RSS may grow while 100 MB passes through: buffers and windows, not the body. */
const rssGrowthLimit = 32 * megabyte;

let h1: SampleUpstream;
let h2c: SampleUpstream;
let downloads: Server;
let agent: RunningAgent;
const dispatcher = new Agent();
let session: ClientHttp2Session;

function* chunks(totalBytes: number): Generator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 'meshlet ');
  for (let sent = 0; sent < totalBytes; sent += chunk.length) yield chunk;
}

/** Serves GET /N with N bytes, written with back-pressure. */
function startDownloadServer(): Promise<Server> {
  const server = createServer((req, res) => {
    const size = Number(req.url!.slice(1));
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    Readable.from(chunks(size)).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Runs `work` while sampling the agent's RSS every 25 ms; resolves with its result and the peak growth. */
async function watchingRss<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const baseline = await residentBytes(agent.pid);
  let peak = baseline;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await residentBytes(agent.pid));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  try {
    return { result: await work(), growth: peak - baseline };
  } finally {
    sampling = false;
    await sampler;
  }
}

beforeAll(async () => {
  [h1, h2c, downloads] = await Promise.all([
    startUpstream({ kind: 'http1', id: 'body-h1' }),
    startUpstream({ kind: 'h2c', id: 'body-h2c' }),
    startDownloadServer(),
  ]);
  agent = await startAgent({
    node: 'bodies-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [
      { name: 'files', protocol: 'http', listen: '127.0.0.1:0', endpoints: [h1.address], policy: { timeout: '30s' } },
      { name: 'blobs', protocol: 'http2', listen: '127.0.0.1:0', endpoints: [h2c.address], policy: { timeout: '30s' } },
      { name: 'downloads', protocol: 'http', listen: '127.0.0.1:0', endpoints: [`127.0.0.1:${(downloads.address() as AddressInfo).port}`], policy: { timeout: '30s' } },
    ],
  });
  session = h2Session(agent.listeners['upstream:blobs']!);
  // A first bulk transfer grows the heap and compiles the hot path; measure what comes after.
  for (const name of ['files', 'blobs']) {
    const res = await request(`http://${agent.listeners[`upstream:${name}`]}/warm-up`, {
      dispatcher, method: 'PUT', headers: { 'x-count-body': '1' }, body: Readable.from(chunks(16 * megabyte)),
    });
    await res.body.dump();
  }
});

afterAll(async () => {
  session?.close();
  await dispatcher.close();
  await agent?.stop();
  await Promise.all([h1?.stop(), h2c?.stop()]);
  await new Promise((resolve) => downloads?.close(resolve));
});

describe('bulk bodies', () => {
  it('streams a 100 MB HTTP/1.1 upload to an HTTP/1.1 upstream', async () => {
    const { result, growth } = await watchingRss(async () => {
      const res = await request(`http://${agent.listeners['upstream:files']}/upload`, {
        dispatcher, method: 'PUT', headers: { 'x-count-body': '1' }, body: Readable.from(chunks(bulkBytes)),
      });
      return { status: res.statusCode, body: await res.body.json() };
    });
    expect(result).toEqual({ status: 200, body: { instance: 'body-h1', bytes: bulkBytes } });
    expect(growth).toBeLessThan(rssGrowthLimit);
  });

  it('streams a 100 MB HTTP/1.1 upload to an HTTP/2 upstream', async () => {
    const { result, growth } = await watchingRss(async () => {
      const res = await request(`http://${agent.listeners['upstream:blobs']}/upload`, {
        dispatcher, method: 'PUT', headers: { 'x-count-body': '1' }, body: Readable.from(chunks(bulkBytes)),
      });
      return { status: res.statusCode, body: await res.body.json() };
    });
    expect(result).toEqual({ status: 200, body: { instance: 'body-h2c', bytes: bulkBytes } });
    expect(growth).toBeLessThan(rssGrowthLimit);
  });

  it('streams a 100 MB h2c upload to an HTTP/1.1 upstream', async () => {
    const h2 = h2Session(agent.listeners['upstream:files']!);
    try {
      const { result, growth } = await watchingRss(
        () =>
          new Promise<{ status: number; body: string }>((resolve, reject) => {
            const stream = h2.request({ ':method': 'PUT', ':path': '/upload', 'x-count-body': '1' });
            let status = 0;
            let body = '';
            stream.on('response', (headers) => (status = Number(headers[':status'])));
            stream.setEncoding('utf8').on('data', (text: string) => (body += text));
            stream.on('end', () => resolve({ status, body }));
            stream.on('error', reject);
            Readable.from(chunks(bulkBytes)).pipe(stream);
          }),
      );
      expect(result.status).toBe(200);
      expect(JSON.parse(result.body)).toEqual({ instance: 'body-h1', bytes: bulkBytes });
      expect(growth).toBeLessThan(rssGrowthLimit);
    } finally {
      h2.close();
    }
  });

  it('streams a 100 MB download to an HTTP/1.1 client', async () => {
    const { result, growth } = await watchingRss(async () => {
      const res = await request(`http://${agent.listeners['upstream:downloads']}/${bulkBytes}`, { dispatcher });
      let bytes = 0;
      for await (const chunk of res.body) bytes += (chunk as Buffer).length;
      return { status: res.statusCode, length: res.headers['content-length'], bytes };
    });
    expect(result).toEqual({ status: 200, length: String(bulkBytes), bytes: bulkBytes });
    expect(growth).toBeLessThan(rssGrowthLimit);
  });

  it('streams a 100 MB download to an h2c client', async () => {
    const h2 = h2Session(agent.listeners['upstream:downloads']!);
    try {
      const { result, growth } = await watchingRss(
        () =>
          new Promise<{ status: number; bytes: number }>((resolve, reject) => {
            const stream = h2.request({ ':path': `/${bulkBytes}` });
            let status = 0;
            let bytes = 0;
            stream.on('response', (headers) => (status = Number(headers[':status'])));
            stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
            stream.on('end', () => resolve({ status, bytes }));
            stream.on('error', reject);
          }),
      );
      expect(result).toEqual({ status: 200, bytes: bulkBytes });
      expect(growth).toBeLessThan(rssGrowthLimit);
    } finally {
      h2.close();
    }
  });
});

describe('trailers', () => {
  it('pass from an HTTP/1.1 upstream to an HTTP/1.1 client (chunked trailers)', async () => {
    const res = await request(`http://${agent.listeners['upstream:files']}/t`, { dispatcher, headers: { 'x-trailer': 'x-checksum=abc123' } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(res.trailers).toEqual({ 'x-checksum': 'abc123' });
  });

  it('pass from an HTTP/2 upstream to an h2c client', async () => {
    const res = await h2Request(session, { ':path': '/t', 'x-trailer': 'x-checksum=def456' });
    expect(res.status).toBe(200);
    expect(res.trailers?.['x-checksum']).toBe('def456');
  });

  it('pass from an HTTP/1.1 upstream to an h2c client', async () => {
    const h2 = h2Session(agent.listeners['upstream:files']!);
    try {
      const res = await h2Request(h2, { ':path': '/t', 'x-trailer': 'x-checksum=ghi789' });
      expect(res.status).toBe(200);
      expect(res.trailers?.['x-checksum']).toBe('ghi789');
    } finally {
      h2.close();
    }
  });

  it('pass from an HTTP/2 upstream to an HTTP/1.1 client', async () => {
    const res = await request(`http://${agent.listeners['upstream:blobs']}/t`, { dispatcher, headers: { 'x-trailer': 'x-checksum=jkl012' } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(res.trailers).toEqual({ 'x-checksum': 'jkl012' });
  });
});
