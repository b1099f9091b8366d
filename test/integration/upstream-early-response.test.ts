// An HTTP/2 upstream may answer whole before it has read the request body (RFC 9113 §8.1): a
// 413, a cached answer, an error. The client gets that answer whole while it is still
// uploading, and the upstream's stream is over (node resets it with NO_ERROR, as the RFC asks),
// so no stream slot of the endpoint stays taken.
import http2, { type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { h2Session } from './http-support.ts';

let agent: RunningAgent | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('an h2c upstream that answers before reading the request body', () => {
  it('gives the client the whole answer while it still uploads, and the upstream\'s stream ends', async () => {
    const closed: number[] = [];
    const server = http2.createServer();
    server.on('stream', (stream: ServerHttp2Stream) => {
      stream.on('error', () => undefined);
      stream.once('close', () => closed.push(stream.rstCode ?? -1));
      // Answers at once and never reads what the client uploads.
      stream.respond({ ':status': 413 });
      stream.end('too large');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const sessions: http2.ServerHttp2Session[] = [];
    server.on('session', (s) => sessions.push(s));
    cleanups.push(() => sessions.forEach((s) => s.destroy()));
    agent = await startAgent({
      node: 'early-response-test',
      admin: { listen: '127.0.0.1:0' },
      upstreams: [{ name: 'catalog', protocol: 'http2', listen: '127.0.0.1:0', endpoints: [`127.0.0.1:${(server.address() as AddressInfo).port}`], policy: { timeout: '10s' } }],
    });

    const client = h2Session(agent.listeners['upstream:catalog']!);
    cleanups.push(() => void client.destroy());
    const stream = client.request({ ':method': 'POST', ':path': '/upload' });
    stream.on('error', () => undefined);
    // The upload starts and then goes on for as long as the test lasts.
    stream.write(Buffer.alloc(8 * 1024, 1));
    const answer = await new Promise<{ status: number; body: string }>((resolve) => {
      let status = 0;
      let body = '';
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      stream.on('end', () => resolve({ status, body }));
    });
    expect(answer).toEqual({ status: 413, body: 'too large' });
    await expect.poll(() => closed, { timeout: 5000 }).toEqual([http2.constants.NGHTTP2_NO_ERROR]);
    // The agent drains its client connections on stop: this one is done.
    client.destroy();
  });
});
