// HTTP/2 upstreams that turn streams away the way servers do when they are rolled or full:
// GOAWAY between requests, REFUSED_STREAM when they shed load, gRPC servers with a maximum
// connection age. Such a stream never reached the application, so the agent sends it once
// more (transparently, with its body from the replay buffer) and the caller sees no failure.
import http2, { type Http2Server, type Http2Session, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Agent as UndiciAgent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDemoProtos, type EchoReply, type EchoRequest } from '../../src/cli/demo/echo-proto.ts';
import { echoClient, unary } from '../helpers/grpc-client.ts';
import { startAgent, type RunningAgent } from '../helpers/processes.ts';
import { metricsText, sampleValue } from './http-support.ts';

let agent: RunningAgent | undefined;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function agentFor(protocol: 'http2' | 'grpc', endpoint: string): Promise<RunningAgent> {
  return startAgent({
    node: 'goaway-test',
    admin: { listen: '127.0.0.1:0' },
    upstreams: [{ name: 'catalog', protocol, listen: '127.0.0.1:0', endpoints: [endpoint], policy: { timeout: '5s' } }],
  });
}

async function listen(server: Http2Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const session of sessions) session.destroy();
    server.close(() => resolve());
  }));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** `total` GETs through the agent's HTTP/1.1 port, `concurrency` at a time; returns the statuses seen. */
async function getMany(address: string, total: number, concurrency: number): Promise<Record<string, number>> {
  const dispatcher = new UndiciAgent({ connections: concurrency });
  cleanups.push(() => dispatcher.close());
  const seen: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next++;
      const response = await request(`http://${address}/item/${next}`, { dispatcher, headersTimeout: 5000, bodyTimeout: 5000 });
      const key = `${response.statusCode} ${response.headers['x-meshlet-error'] ?? ''}`.trim();
      await response.body.text();
      seen[key] = (seen[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return seen;
}

describe('HTTP/2 upstreams that turn streams away', () => {
  it('an h2c upstream that sends GOAWAY after every 20 streams fails no call', async () => {
    const server = http2.createServer();
    const streamsBySession = new WeakMap<Http2Session, number>();
    server.on('stream', (stream) => {
      const session = stream.session!;
      const count = (streamsBySession.get(session) ?? 0) + 1;
      streamsBySession.set(session, count);
      stream.respond({ ':status': 200 });
      stream.end('ok');
      // As a server being rolled: no stream after this one, then the connection goes.
      if (count === 20) {
        session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
        session.close();
      }
    });
    agent = await agentFor('http2', await listen(server));

    const seen = await getMany(agent.listeners['upstream:catalog']!, 400, 10);

    expect(seen).toEqual({ 200: 400 });
  });

  it('an h2c upstream that refuses every stream once (REFUSED_STREAM) fails no call', async () => {
    // As a server shedding load does, or nghttp2 for streams past its limit before the client
    // has read its SETTINGS: the application never saw the stream.
    const server = http2.createServer();
    const seenPaths = new Set<string>();
    server.on('stream', (stream, headers) => {
      const path = headers[':path']!;
      if (!seenPaths.has(path)) {
        seenPaths.add(path);
        // node reports the reset it sends as an error on the stream.
        stream.on('error', () => undefined);
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    agent = await agentFor('http2', await listen(server));

    const seen = await getMany(agent.listeners['upstream:catalog']!, 60, 6);

    expect(seen).toEqual({ 200: 60 });
    const retried = sampleValue(await metricsText(agent), 'meshlet_transparent_retries_total', { upstream: 'catalog', reason: 'refused_stream' });
    expect(retried).toBe(60);
  });

  it('a gRPC server with a maximum connection age fails no call of a grpc-js client', async () => {
    const protos = loadDemoProtos();
    const server = new grpc.Server({ 'grpc.max_connection_age_ms': 100, 'grpc.max_connection_age_grace_ms': 1000 });
    server.addService(protos.Echo.service, {
      Unary(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
        callback(null, { message: call.request.message, instance: 'aged', index: 0 });
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))));
    cleanups.push(() => void server.forceShutdown());
    agent = await agentFor('grpc', `127.0.0.1:${port}`);
    const client = echoClient(agent.listeners['upstream:catalog']!);
    cleanups.push(() => client.close());

    const failures: string[] = [];
    for (let round = 0; round < 30; round++) {
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => unary(client, { message: `m${round}-${i}` })));
      for (const result of results) if (result.status === 'rejected') failures.push(String((result.reason as Error).message));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    expect(failures).toEqual([]);
  });
});
