// A call and its attempts on the in-memory forwarder and a fake clock: what the client is given
// when timers, completions, failures and client closes race, what a discarded attempt leaves
// behind (nothing), the transparent retry, and the last line of defence.
import { PassThrough, type Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { NO_ATTEMPT, type Attempt, type AttemptHandler, type Dispatcher, type Step } from '../../../src/proxy/call/attempt.ts';
import type { ProxyCall } from '../../../src/proxy/call/proxy-call.ts';
import { MeshletMetrics } from '../../../src/observability/metrics.ts';
import { transparentRetry } from '../../../src/resilience/transparent-retry.ts';
import { callRig, GET } from '../../helpers/in-memory-forwarder.ts';
import { sampleValue } from '../observability/prometheus-text.ts';

const accessLines = (lines: Record<string, unknown>[]) => lines.filter((line) => line['log'] === 'access');

describe('a call on the in-memory forwarder', () => {
  it('streams a committed response to the client and logs one line with the attempt count', () => {
    const rig = callRig();
    const { sink } = rig.call();
    const [attempt] = rig.attempts();
    expect(attempt!.head(200)).toBe(true);
    attempt!.data('hello');
    attempt!.end();
    expect(sink).toMatchObject({ status: 200, ended: true, text: 'hello', failures: [] });
    expect(accessLines(rig.lines)).toEqual([expect.objectContaining({ status: 200, attempts: 1, endpoint: '127.0.0.1:1' })]);
  });

  it('a timeout racing a completion: whichever comes first wins, the other changes nothing', () => {
    const rig = callRig({ timeoutMs: 100 });
    const { sink } = rig.call();
    const [attempt] = rig.attempts();
    attempt!.head(200, {}, false);
    attempt!.end();
    rig.clock.advance(100);
    expect(sink).toMatchObject({ status: 200, ended: true, resets: 0, failures: [] });
    expect(attempt!.cancelledAs).toBeUndefined();

    const late = callRig({ timeoutMs: 100 });
    const second = late.call();
    const [slow] = late.attempts();
    late.clock.advance(100);
    expect(second.sink.failures).toEqual(['504 MESHLET_UPSTREAM_TIMEOUT']);
    expect(slow!.cancelledAs).toBe('timeout');
    // The endpoint answering after the deadline reaches nobody.
    expect(slow!.head(200)).toBe(false);
    expect(second.sink.status).toBe(0);
  });

  it('a timeout after the response head resets the client instead of faking an end', () => {
    const rig = callRig({ timeoutMs: 100 });
    const { sink } = rig.call();
    const [attempt] = rig.attempts();
    attempt!.head(200);
    attempt!.data('part');
    rig.clock.advance(100);
    expect(sink).toMatchObject({ status: 200, ended: false, resets: 1, text: 'part' });
    expect(attempt!.cancelledAs).toBe('timeout');
    attempt!.data('more');
    expect(sink.text).toBe('part');
  });

  it('a client close racing a failure: the call settles once, as the client close, and the endpoint is not blamed', async () => {
    const rig = callRig();
    const { call, sink } = rig.call();
    const [attempt] = rig.attempts();
    call.onClientClose();
    attempt!.fail('reset_before_headers');
    expect(attempt!.cancelledAs).toBe('cancelled');
    expect(sink.failures).toEqual([]);
    expect(accessLines(rig.lines)).toEqual([expect.objectContaining({ status: 499 })]);
    const text = await rig.metrics.metricsText();
    expect(sampleValue(text, 'meshlet_upstream_errors_total', { upstream: 'catalog', code: 'MESHLET_UPSTREAM_RESET' })).toBeUndefined();
    expect(call.lastOutcome).toMatchObject({ reason: 'cancelled', failed: false, latencyMs: undefined });
  });

  it('passes back-pressure from the client to the attempt and resumes it on drain', () => {
    const rig = callRig();
    const { sink } = rig.call();
    const [attempt] = rig.attempts();
    attempt!.head(200);
    sink.full = true;
    attempt!.data('a');
    expect(attempt!.data('b')).toBe(false);
    sink.full = false;
    sink.release!();
    return new Promise<void>((resolve) => setImmediate(() => {
      expect(attempt!.resumes).toBeGreaterThan(0);
      resolve();
    }));
  });

  it('counts a gRPC UNAVAILABLE in a 200 response as the endpoint failing, and logs its grpc_status', () => {
    const rig = callRig();
    const { call } = rig.call({ ...GET, grpc: true });
    const [attempt] = rig.attempts();
    attempt!.head(200, { 'content-type': 'application/grpc' });
    attempt!.end({ 'grpc-status': '14' });
    expect(call.lastOutcome).toMatchObject({ status: 200, grpcStatus: 14, failed: true });
    expect(accessLines(rig.lines)).toEqual([expect.objectContaining({ status: 200, grpc_status: 14 })]);
  });
});

/** A test step that discards the first response and tries again: what a retry of a 503 will do. */
const discardFirstResponse: Step = (next) => ({
  dispatch(call: ProxyCall, handler: AttemptHandler): Attempt {
    let current: Attempt = NO_ATTEMPT;
    let first = true;
    const wrapper: AttemptHandler = {
      onResponseStart(status, headers, endStream, expectTrailers) {
        if (first) {
          first = false;
          current = next.dispatch(call, wrapper);
          return false;
        }
        return handler.onResponseStart(status, headers, endStream, expectTrailers);
      },
      onData: (chunk) => handler.onData(chunk),
      onEnd: (trailers) => handler.onEnd(trailers),
      onError: (reason, message) => handler.onError(reason, message),
      onInternalError: (site, err) => handler.onInternalError(site, err),
    };
    current = next.dispatch(call, wrapper);
    return { cancel: (reason) => current.cancel(reason), resume: () => current.resume() };
  },
}) satisfies Dispatcher;

describe('a discarded attempt', () => {
  it('never reaches the client: not its head, not its bytes, not its end', () => {
    const rig = callRig({ addresses: ['127.0.0.1:1', '127.0.0.1:2'], steps: [discardFirstResponse] });
    const { call, sink } = rig.call();
    const [first] = rig.attempts();
    expect(first!.head(503)).toBe(false);
    expect(first!.data('first body')).toBe(true);
    first!.end();
    const second = rig.attempts()[1]!;
    expect(second.endpoint).not.toBe(first!.endpoint);
    second.head(200);
    second.data('second body');
    second.end();
    expect(sink).toMatchObject({ status: 200, text: 'second body', ended: true });
    expect(call.attempts).toBe(2);
  });
});

describe('the transparent retry', () => {
  it('sends a refused stream once more, unseen by the client, and counts it', async () => {
    const rig = callRig({ steps: [transparentRetry] });
    const { sink } = rig.call();
    rig.attempts()[0]!.fail('refused_stream');
    expect(rig.attempts()).toHaveLength(2);
    const second = rig.attempts()[1]!;
    second.head(200);
    second.end();
    expect(sink).toMatchObject({ status: 200, failures: [] });
    const text = await rig.metrics.metricsText();
    expect(sampleValue(text, 'meshlet_transparent_retries_total', { upstream: 'catalog', reason: 'refused_stream' })).toBe(1);
  });

  it('retries once and only once: a second refusal reaches the client', () => {
    const rig = callRig({ steps: [transparentRetry] });
    const { sink } = rig.call();
    rig.attempts()[0]!.fail('refused_stream');
    rig.attempts()[1]!.fail('goaway');
    expect(rig.attempts()).toHaveLength(2);
    expect(sink.failures).toEqual(['503 MESHLET_UPSTREAM_RESET']);
  });

  it('handles an attempt that fails inside dispatch, before it was even returned', () => {
    const rig = callRig({ steps: [transparentRetry] });
    let refusals = 0;
    rig.forwarders[0]!.onForward = (attempt) => {
      if (refusals++ === 0) attempt.fail('refused_stream');
    };
    const { call, sink } = rig.call();
    expect(rig.forwarders[0]!.attempts).toHaveLength(2);
    const second = rig.forwarders[0]!.attempts[1]!;
    second.head(200);
    second.end();
    expect(sink.status).toBe(200);
    // The call cancels the attempt it holds, which must be the live one.
    call.onClientClose();
    expect(second.cancelledAs).toBeUndefined();
  });

  it('does not resend what the application may have seen: a reset, a timeout, a 503', () => {
    const rig = callRig({ addresses: ['127.0.0.1:1', '127.0.0.1:2'], steps: [transparentRetry] });
    rig.call();
    rig.attempts()[0]!.fail('reset_before_headers');
    const next = rig.call();
    rig.attempts()[1]!.head(503);
    rig.attempts()[1]!.end();
    expect(rig.attempts()).toHaveLength(2);
    expect(next.sink.status).toBe(503);
  });

  it('sends a failed connect to another endpoint, and with only one endpoint, not again', () => {
    const two = callRig({ addresses: ['127.0.0.1:1', '127.0.0.1:2'], steps: [transparentRetry] });
    two.call();
    two.attempts()[0]!.fail('connect_failed');
    expect(two.attempts().map((a) => a.endpoint)).toEqual(['127.0.0.1:1', '127.0.0.1:2']);

    const one = callRig({ steps: [transparentRetry] });
    const { sink } = one.call();
    one.attempts()[0]!.fail('connect_failed');
    expect(one.attempts()).toHaveLength(1);
    expect(sink.failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
  });

  it('sends a body that fits the replay buffer again, whole, to the second attempt', async () => {
    const rig = callRig({ steps: [transparentRetry] });
    const body = new PassThrough();
    rig.call({ ...GET, method: 'POST', body });
    const first = rig.attempts()[0]!;
    body.write('part one, ');
    await readSome(first.body!, 'part one, '.length);
    first.fail('refused_stream');
    // The failed attempt's reader goes with it, so it holds the body up for nobody.
    expect(first.body!.destroyed).toBe(true);
    const second = rig.attempts()[1]!;
    body.end('part two');
    expect(await readAll(second.body!)).toBe('part one, part two');
  });

  it('does not send again a body past the replay cap, and still streams it whole to its one attempt', async () => {
    const rig = callRig({ steps: [transparentRetry], policy: { retry: { attempts: 1, backoff: { base: 25, max: 250 }, on: [], bufferLimit: 8 } } });
    const body = new PassThrough();
    const { call, sink } = rig.call({ ...GET, method: 'POST', body });
    const first = rig.attempts()[0]!;
    const whole = 'a body longer than eight bytes';
    body.end(whole);
    expect(await readAll(first.body!)).toBe(whole);
    expect(call.replayable).toBe(false);
    first.fail('refused_stream');
    expect(rig.attempts()).toHaveLength(1);
    expect(sink.failures).toEqual(['503 MESHLET_UPSTREAM_RESET']);
  });
});

function readAll(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.once('error', reject);
  });
}

function readSome(stream: Readable, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen < bytes) return;
      stream.off('data', onData);
      stream.pause();
      resolve();
    };
    stream.on('data', onData);
  });
}

describe('the last line of defence', () => {
  it('fails each call whose handling throws with 502 MESHLET_BAD_UPSTREAM_RESPONSE, counts each, logs the stack once', async () => {
    const rig = callRig();
    rig.forwarders[0]!.onForward = () => {
      throw new TypeError('a bug the peer found');
    };
    const sinks = [rig.call().sink, rig.call().sink, rig.call().sink];
    for (const sink of sinks) expect(sink.failures).toEqual(['502 MESHLET_BAD_UPSTREAM_RESPONSE']);
    const text = await rig.metrics.metricsText();
    expect(sampleValue(text, 'meshlet_internal_errors_total', { site: 'proxy_call' })).toBe(3);
    expect(sampleValue(text, 'meshlet_upstream_errors_total', { upstream: 'catalog', code: 'MESHLET_BAD_UPSTREAM_RESPONSE' })).toBe(3);
    const logged = rig.lines.filter((line) => line['site'] === 'proxy_call');
    expect(logged).toHaveLength(1);
    expect(String(logged[0]!['err'])).toContain('TypeError: a bug the peer found');
    // Every failed call settled: none is left counted as in flight.
    expect(sampleValue(text, 'meshlet_requests_in_flight', { upstream: 'catalog' })).toBe(0);
  });

  it('resets the client when the exception comes after the response began, and counts it by site', async () => {
    const rig = callRig();
    const { sink } = rig.call();
    const [attempt] = rig.attempts();
    attempt!.head(200);
    attempt!.internalError(new RangeError('after the head'));
    expect(sink).toMatchObject({ failures: [], resets: 1 });
    expect(attempt!.cancelledAs).toBe('cancelled');
    const text = await rig.metrics.metricsText();
    expect(sampleValue(text, 'meshlet_internal_errors_total', { site: 'http1_forwarder' })).toBe(1);
    expect(sampleValue(text, 'meshlet_requests_in_flight', { upstream: 'catalog' })).toBe(0);
  });

  it('shows every site at 0 before anything failed', async () => {
    const text = await new MeshletMetrics().metricsText();
    for (const site of ['sniff', 'tunnel_connect', 'client_error', 'http1_request', 'http2_stream', 'proxy_call', 'http1_forwarder', 'http2_forwarder']) {
      expect(sampleValue(text, 'meshlet_internal_errors_total', { site })).toBe(0);
    }
  });

  it('records a response whose trailers the client protocol refused as failed MESHLET_BAD_UPSTREAM_RESPONSE, not completed', async () => {
    const rig = callRig();
    const { sink } = rig.call();
    sink.finish = (_trailers, ending) => {
      sink.reset();
      ending.trailersRefused();
    };
    const [attempt] = rig.attempts();
    attempt!.head(200);
    attempt!.end({ 'x-checksum': 'abc' });
    expect(sink.resets).toBeGreaterThan(0);
    const text = await rig.metrics.metricsText();
    expect(sampleValue(text, 'meshlet_upstream_errors_total', { upstream: 'catalog', code: 'MESHLET_BAD_UPSTREAM_RESPONSE' })).toBe(1);
  });
});
