// Http2Sink over a real node:http2 stream: whether trailers went out is known only once node
// asks for them, after the body; trailers it refuses then must fail the call, not complete it.
// A refusal the agent answers itself (a shed, a rate limit) tells the client when to come back:
// retry-after, and for gRPC also grpc-retry-pushback-ms, which a grpc-js client's retry policy
// waits for, beside RESOURCE_EXHAUSTED in the trailers-only response.
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyError } from '../../../src/proxy/errors.ts';
import { Http2Sink } from '../../../src/proxy/listen/http2-sink.ts';
import type { ResponseEnding } from '../../../src/proxy/call/response-sink.ts';

let close: (() => void) | undefined;

afterEach(() => close?.());

/** A client session to a server that hands each stream to `serve`; closed after the test. */
async function serving(serve: (stream: ServerHttp2Stream) => void): Promise<ClientHttp2Session> {
  const server = http2.createServer();
  server.on('stream', (stream: ServerHttp2Stream) => {
    stream.on('error', () => undefined);
    serve(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  session.on('error', () => undefined);
  close = () => {
    session.destroy();
    server.close();
  };
  return session;
}

/** The response head a client gets for `error` answered through an Http2Sink. */
async function refusal(error: ProxyError, grpc: boolean): Promise<IncomingHttpHeaders> {
  const session = await serving((stream) => new Http2Sink(stream, grpc).fail(error, 'inbound:orders'));
  return new Promise((resolve) => {
    const stream = session.request({ ':path': '/', ...(grpc ? { 'content-type': 'application/grpc' } : {}) });
    stream.on('response', (headers) => resolve(headers));
    stream.resume();
  });
}

/** One response of `body` and `trailers` through an Http2Sink: what the client saw, and how the sink said the end went. */
async function exchange(trailers: Record<string, string>): Promise<{ client: string; ending: string }> {
  let ending = 'none';
  const recorder: ResponseEnding = {
    responseSent: () => { ending = 'sent'; },
    trailersRefused: () => { ending = 'refused'; },
  };
  const session = await serving((stream) => {
    const sink = new Http2Sink(stream, false);
    sink.start(200, { 'content-type': 'text/plain' }, false, true);
    sink.body.write('body');
    sink.finish(trailers, recorder);
  });
  const client = await new Promise<string>((resolve) => {
    const stream = session.request({ ':path': '/' });
    let result = 'no trailers';
    stream.on('trailers', (t) => { result = `trailers ${JSON.stringify(t)}`; });
    stream.on('error', (err: Error & { code?: string }) => { result = `error ${err.code}`; });
    stream.resume();
    stream.on('close', () => resolve(result));
  });
  return { client, ending };
}

describe('Http2Sink trailers', () => {
  it('tells the call the response was sent once node took the trailers', async () => {
    expect(await exchange({ 'x-checksum': 'abc' })).toEqual({ client: 'trailers {"x-checksum":"abc"}', ending: 'sent' });
  });

  it('resets the client and tells the call the trailers were refused when node refuses them after the body', async () => {
    // node:http2 validates trailers only in sendTrailers, from inside its write path.
    expect(await exchange({ 'x bad': '1' })).toEqual({ client: 'error ERR_HTTP2_STREAM_ERROR', ending: 'refused' });
  });
});

describe('Http2Sink refusals', () => {
  it('answers gRPC with RESOURCE_EXHAUSTED, retry-after and grpc-retry-pushback-ms', async () => {
    const headers = await refusal(new ProxyError('MESHLET_OVERLOADED', 'shed', undefined, 1), true);
    expect(headers).toMatchObject({ ':status': 200, 'grpc-status': '8', 'x-meshlet-error': 'MESHLET_OVERLOADED', 'retry-after': '1', 'grpc-retry-pushback-ms': '1000' });
  });

  it('answers gRPC over its rate limit with RESOURCE_EXHAUSTED and a pushback of the seconds retry-after says', async () => {
    const headers = await refusal(new ProxyError('MESHLET_RATE_LIMITED', 'over', undefined, 3), true);
    expect(headers).toMatchObject({ ':status': 200, 'grpc-status': '8', 'x-meshlet-error': 'MESHLET_RATE_LIMITED', 'retry-after': '3', 'grpc-retry-pushback-ms': '3000' });
  });
});
