// The sample upstreams, spoken to directly: the agent's integration tests and `meshlet demo`
// rely on them behaving as their headers and requests ask.
import { createHash } from 'node:crypto';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type SampleUpstream } from '../helpers/processes.ts';
import { echoClient, healthClient, serverStream, unary, type EchoClient, type EchoReply } from '../helpers/grpc-client.ts';

const megabyte = 1024 * 1024;

function* chunks(totalBytes: number): Generator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 'meshlet ');
  for (let sent = 0; sent < totalBytes; sent += chunk.length) yield chunk;
}

async function digest(body: AsyncIterable<Buffer | string>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    bytes += buffer.length;
    hash.update(buffer);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Polls until the server has noticed the client going away; it learns of it asynchronously. */
async function statsOnceAborted(fetchStats: () => Promise<{ aborted: number }>): Promise<{ aborted: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const stats = await fetchStats();
    if (stats.aborted > 0) return stats;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return fetchStats();
}

describe('http1 sample upstream', () => {
  let upstream: SampleUpstream;
  let origin: string;
  const dispatcher = new Agent();

  beforeAll(async () => {
    upstream = await startUpstream({ kind: 'http1', id: 'h1-a' });
    origin = `http://${upstream.address}`;
  });
  afterAll(async () => {
    await dispatcher.close();
    await upstream?.stop();
  });

  it('describes a GET and names its instance', async () => {
    const res = await request(`${origin}/items/7?q=1`, { dispatcher, headers: { 'x-user-id': 'u1' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-instance']).toBe('h1-a');
    const body = (await res.body.json()) as { instance: string; method: string; path: string; headers: Record<string, string> };
    expect(body).toMatchObject({ instance: 'h1-a', method: 'GET', path: '/items/7?q=1' });
    expect(body.headers['x-user-id']).toBe('u1');
  });

  it('echoes a streamed POST body byte for byte', async () => {
    const sent = await digest(Readable.from(chunks(8 * megabyte)));
    const res = await request(`${origin}/upload`, { dispatcher, method: 'POST', body: Readable.from(chunks(8 * megabyte)) });
    expect(res.statusCode).toBe(200);
    expect(await digest(res.body)).toEqual(sent);
  });

  it('counts a 100 MB body without echoing it', async () => {
    const res = await request(`${origin}/upload`, {
      dispatcher, method: 'PUT', headers: { 'x-count-body': '1' }, body: Readable.from(chunks(100 * megabyte)),
    });
    expect(await res.body.json()).toEqual({ instance: 'h1-a', bytes: 100 * megabyte });
  });

  it('answers with the asked status, after the asked delay, with the asked trailer', async () => {
    const started = performance.now();
    const res = await request(`${origin}/slow`, {
      dispatcher, headers: { 'x-status': '503', 'x-delay-ms': '200', 'x-trailer': 'x-checksum=abc' },
    });
    await res.body.dump();
    expect(res.statusCode).toBe(503);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(res.trailers).toEqual({ 'x-checksum': 'abc' });
  });

  it('resets the connection after sending the headers', async () => {
    const res = await request(`${origin}/reset`, { dispatcher, headers: { 'x-reset': '1' } });
    expect(res.statusCode).toBe(200);
    await expect(res.body.text()).rejects.toThrow();
  });

  it('streams until the client goes away and counts that in /_stats', async () => {
    const stats = async () => (await (await request(`${origin}/_stats`, { dispatcher })).body.json()) as { aborted: number; requests: number };
    const before = await stats();
    const res = await request(`${origin}/stream`, { dispatcher, headers: { 'x-stream-ms': '10' } });
    let received = '';
    for await (const chunk of res.body) {
      received += String(chunk);
      if (received.includes('chunk 2')) break;
    }
    expect(received).toContain('chunk 1');
    const after = await statsOnceAborted(stats);
    expect(after.aborted).toBe(before.aborted + 1);
    expect(after).toMatchObject({ instance: 'h1-a', requests: before.requests + 1 });
  });
});

interface H2Response {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly trailers: IncomingHttpHeaders;
}

/** Resolves at the stream's end; rejects when it is reset (the error carries the RST code). */
function h2Request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: Iterable<Buffer>): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const parts: Buffer[] = [];
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.on('end', () => resolve({ headers: responseHeaders, body: Buffer.concat(parts), trailers }));
    stream.on('error', reject);
    if (body !== undefined) Readable.from(body).pipe(stream);
  });
}

describe('h2c sample upstream', () => {
  let upstream: SampleUpstream;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    upstream = await startUpstream({ kind: 'h2c', id: 'h2-a' });
    session = connect(`http://${upstream.address}`);
  });
  afterAll(async () => {
    session?.close();
    await upstream?.stop();
  });

  it('describes a GET and names its instance', async () => {
    const res = await h2Request(session, { ':path': '/items/7', 'x-user-id': 'u1' });
    expect(res.headers[':status']).toBe(200);
    expect(res.headers['x-instance']).toBe('h2-a');
    const body = JSON.parse(res.body.toString()) as { instance: string; method: string; path: string; headers: Record<string, string> };
    expect(body).toMatchObject({ instance: 'h2-a', method: 'GET', path: '/items/7' });
    expect(body.headers['x-user-id']).toBe('u1');
    expect(body.headers[':path']).toBeUndefined();
  });

  it('echoes a POST body and sends the asked trailer after it', async () => {
    const res = await h2Request(session, { ':method': 'POST', ':path': '/echo', 'x-trailer': 'grpc-status=0' }, chunks(2 * megabyte));
    expect(res.body.length).toBe(2 * megabyte);
    expect(res.trailers['grpc-status']).toBe('0');
  });

  it('answers with the asked status after the asked delay', async () => {
    const started = performance.now();
    const res = await h2Request(session, { ':path': '/slow', 'x-status': '429', 'x-delay-ms': '150' });
    expect(res.headers[':status']).toBe(429);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('resets the stream after the headers and keeps the connection', async () => {
    await expect(h2Request(session, { ':path': '/reset', 'x-reset': '1' })).rejects.toThrow(/NGHTTP2_INTERNAL_ERROR/);
    const res = await h2Request(session, { ':path': '/after' });
    expect(res.headers[':status']).toBe(200);
  });

  it('streams until the client cancels and counts that in /_stats', async () => {
    const stats = async () => JSON.parse((await h2Request(session, { ':path': '/_stats' })).body.toString()) as { aborted: number };
    const before = await stats();
    await new Promise<void>((resolve) => {
      const stream = session.request({ ':path': '/stream', 'x-stream-ms': '10' });
      stream.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('chunk 2')) {
          stream.close(constants.NGHTTP2_CANCEL);
          resolve();
        }
      });
    });
    const after = await statsOnceAborted(stats);
    expect(after.aborted).toBe(before.aborted + 1);
  });
});

describe('grpc sample upstream', () => {
  let upstream: SampleUpstream;
  let client: EchoClient;

  beforeAll(async () => {
    upstream = await startUpstream({ kind: 'grpc', id: 'g-a' });
    client = echoClient(upstream.address);
  });
  afterAll(async () => {
    client?.close();
    await upstream?.stop();
  });

  it('answers a unary call with x-instance in its headers and trailers', async () => {
    const { reply, headers, trailers } = await unary(client, { message: 'hello' });
    expect(reply).toEqual({ message: 'hello', instance: 'g-a', index: 0 });
    expect(headers.get('x-instance')).toEqual(['g-a']);
    expect(trailers.get('x-instance')).toEqual(['g-a']);
  });

  it('fails with the asked status, naming the instance in the trailers', async () => {
    const error = (await unary(client, { message: 'x', failCode: grpc.status.UNAVAILABLE }).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.details).toContain('g-a');
    expect(error.metadata.get('x-instance')).toEqual(['g-a']);
  });

  it('is slow when asked, so a deadline can expire', async () => {
    const error = (await unary(client, { message: 'x', delayMs: 500 }, { deadlineMs: 100 }).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it('streams `count` replies to a server-streaming call', async () => {
    const replies = await serverStream(client, { message: 'tick', count: 3, delayMs: 5 });
    expect(replies.map((r) => r.index)).toEqual([0, 1, 2]);
    expect(replies.every((r) => r.instance === 'g-a' && r.message === 'tick')).toBe(true);
  });

  it('ends a server stream with the asked status after its replies', async () => {
    const replies: EchoReply[] = [];
    const call = client.ServerStream({ message: 'm', count: 2, failCode: grpc.status.INTERNAL }, new grpc.Metadata(), {});
    call.on('data', (reply: EchoReply) => replies.push(reply));
    const error = await new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    expect(replies).toHaveLength(2);
    expect(error.code).toBe(grpc.status.INTERNAL);
  });

  it('joins a client stream into one reply that counts the requests', async () => {
    const reply = await new Promise<EchoReply>((resolve, reject) => {
      const call = client.ClientStream(new grpc.Metadata(), {}, (error, value) => (error ? reject(error) : resolve(value!)));
      for (const message of ['a', 'b', 'c']) call.write({ message });
      call.end();
    });
    expect(reply).toEqual({ message: 'abc', instance: 'g-a', index: 3 });
  });

  it('echoes each message of a bidirectional stream in order', async () => {
    const call = client.Bidi(new grpc.Metadata(), {});
    const replies: EchoReply[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (reply: EchoReply) => replies.push(reply));
      call.on('end', resolve);
      call.on('error', reject);
    });
    for (const message of ['one', 'two']) call.write({ message });
    call.end();
    await done;
    expect(replies).toEqual([
      { message: 'one', instance: 'g-a', index: 0 },
      { message: 'two', instance: 'g-a', index: 1 },
    ]);
  });

  it('reports SERVING on grpc.health.v1', async () => {
    const health = healthClient(upstream.address);
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) =>
        health.Check({ service }, new grpc.Metadata(), {}, (error, value) => (error ? reject(error) : resolve(value!))));
    expect(await check('')).toEqual({ status: 'SERVING' });
    expect(await check('demo.v1.Echo')).toEqual({ status: 'SERVING' });
    await expect(check('nope')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    health.close();
  });
});

describe('sample upstream process', () => {
  it('exits when stopped', async () => {
    const upstream = await startUpstream({ kind: 'http1', id: 'short-lived' });
    await upstream.stop();
    expect(() => process.kill(upstream.pid, 0)).toThrow();
  });
});
