// Http2Sink over a real node:http2 stream: whether trailers went out is known only once node
// asks for them, after the body; trailers it refuses then must fail the call, not complete it.
import http2, { type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Http2Sink } from '../../../src/proxy/listen/http2-sink.ts';
import type { ResponseEnding } from '../../../src/proxy/call/response-sink.ts';

let close: (() => void) | undefined;

afterEach(() => close?.());

/** One response of `body` and `trailers` through an Http2Sink: what the client saw, and how the sink said the end went. */
async function exchange(trailers: Record<string, string>): Promise<{ client: string; ending: string }> {
  const server = http2.createServer();
  let ending = 'none';
  const recorder: ResponseEnding = {
    responseSent: () => { ending = 'sent'; },
    trailersRefused: () => { ending = 'refused'; },
  };
  server.on('stream', (stream: ServerHttp2Stream) => {
    stream.on('error', () => undefined);
    const sink = new Http2Sink(stream, false);
    sink.start(200, { 'content-type': 'text/plain' }, false, true);
    sink.body.write('body');
    sink.finish(trailers, recorder);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  session.on('error', () => undefined);
  close = () => {
    session.destroy();
    server.close();
  };
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
