// policy.retry on the in-memory forwarder and a fake clock: what is retried and what is not,
// when the next attempt goes, what it is sent, and what the client is given.
import type { OutgoingHttpHeaders } from 'node:http';
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { LIMITS_DEFAULTS, REPLAY_BUFFER_LIMIT } from '../../../src/config/defaults.ts';
import type { RetryConfig } from '../../../src/config/types.ts';
import { headerValue, type ProxiedRequest } from '../../../src/proxy/call/proxied-request.ts';
import { retryStep } from '../../../src/resilience/retry-step.ts';
import { elapse } from '../../helpers/fake-time.ts';
import { callRig, GET, type DrivenAttempt } from '../../helpers/in-memory-forwarder.ts';
import { sampleValue } from '../observability/prometheus-text.ts';

const THREE = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'];

function retry(overrides: Partial<RetryConfig> = {}): RetryConfig {
  return { attempts: 3, backoff: { base: 10, max: 100 }, on: ['5xx'], bufferLimit: REPLAY_BUFFER_LIMIT, ...overrides };
}

interface RigOptions {
  readonly retry?: RetryConfig;
  readonly timeoutMs?: number;
  /** What the jitter draws, every time. */
  readonly random?: number;
  readonly maxRetries?: number;
  readonly wallNow?: number;
}

/** Only the retry step before the endpoint step, on the rig's fake clock. */
function retryRig(options: RigOptions = {}) {
  return callRig({
    addresses: THREE,
    timeoutMs: options.timeoutMs ?? 10_000,
    policy: { retry: options.retry ?? retry(), ...(options.maxRetries !== undefined ? { limits: { ...LIMITS_DEFAULTS, maxRetries: options.maxRetries } } : {}) },
    steps: (clock) => [retryStep({ clock, random: () => options.random ?? 0, wallNow: () => options.wallNow ?? 0 })],
  });
}

const GRPC: ProxiedRequest = { ...GET, method: 'POST', path: '/echo.Echo/Say', headers: { 'content-type': 'application/grpc' }, grpc: true, multiplexed: true };

/** Answers the attempt whole with `status`. */
function answer(attempt: DrivenAttempt, status: number, headers: OutgoingHttpHeaders = {}): boolean {
  const committed = attempt.head(status, headers, true);
  attempt.end();
  return committed;
}

const trailersOnly = (attempt: DrivenAttempt, grpcStatus: number, headers: OutgoingHttpHeaders = {}): boolean => answer(attempt, 200, { 'grpc-status': String(grpcStatus), ...headers });

describe('what the retry step retries', () => {
  it('discards a 503 at its head, sends the call to another endpoint, and gives the client only the answer', async () => {
    const r = retryRig();
    const { sink } = r.call();
    const [first] = r.attempts();
    expect(answer(first!, 503)).toBe(false);
    await elapse(r.clock, 0);
    const second = r.attempts()[1]!;
    expect(second.endpoint).not.toBe(first!.endpoint);
    second.head(200);
    second.data('fine');
    second.end();
    expect(sink).toMatchObject({ status: 200, text: 'fine', failures: [] });
    expect(r.lines.filter((l) => l['log'] === 'access')).toEqual([expect.objectContaining({ status: 200, attempts: 2 })]);
    const metrics = await r.metrics.metricsText();
    expect(sampleValue(metrics, 'meshlet_retries_total', { upstream: 'catalog', reason: 'http_503' })).toBe(1);
  });

  type Failure = (attempt: DrivenAttempt) => void;
  const status = (code: number): Failure => (a) => void answer(a, code);
  const reason = (why: Parameters<DrivenAttempt['fail']>[0]): Failure => (a) => a.fail(why);

  it.each<[string, RetryConfig['on'], Failure, boolean]>([
    ['a connect failure under connect-failure', ['connect-failure'], reason('connect_failed'), true],
    ['a refused stream under refused-stream', ['refused-stream'], reason('refused_stream'), true],
    ['a reset before the head under reset', ['reset'], reason('reset_before_headers'), true],
    ['a 500 under 5xx', ['5xx'], status(500), true],
    ['a reset under 5xx', ['5xx'], reason('reset_before_headers'), true],
    ['a 502 under gateway-error', ['gateway-error'], status(502), true],
    ['a 500 under gateway-error', ['gateway-error'], status(500), false],
    ['a 409 under retriable-4xx', ['retriable-4xx'], status(409), true],
    ['a 404 under every trigger', ['5xx', 'gateway-error', 'retriable-4xx'], status(404), false],
    ['a 503 under connect-failure only', ['connect-failure'], status(503), false],
    ['a reset before the head under connect-failure only', ['connect-failure'], reason('reset_before_headers'), false],
    ['a bad response under 5xx', ['5xx'], reason('bad_response'), false],
  ])('%s: retried %s', async (_name, on, failure, retried) => {
    const r = retryRig({ retry: retry({ on }) });
    const { sink } = r.call();
    failure(r.attempts()[0]!);
    await elapse(r.clock, 0);
    expect(r.attempts()).toHaveLength(retried ? 2 : 1);
    if (!retried) expect(sink.status !== 0 || sink.failures.length === 1).toBe(true);
  });

  it('a listed status: 429 and 503 under statuses, not a 500 outside 5xx', async () => {
    const r = retryRig({ retry: retry({ on: ['connect-failure'], statuses: [429, 503] }) });
    r.call();
    answer(r.attempts()[0]!, 429);
    await elapse(r.clock, 0);
    answer(r.attempts()[1]!, 503);
    await elapse(r.clock, 0);
    expect(r.attempts()).toHaveLength(3);
    const other = retryRig({ retry: retry({ on: ['connect-failure'], statuses: [429] }) });
    const { sink } = other.call();
    answer(other.attempts()[0]!, 500);
    await elapse(other.clock, 0);
    expect(other.attempts()).toHaveLength(1);
    expect(sink.status).toBe(500);
  });

  it.each<[string, RetryConfig['on'], number, boolean]>([
    ['UNAVAILABLE under unavailable', ['unavailable'], 14, true],
    ['RESOURCE_EXHAUSTED under resource-exhausted', ['resource-exhausted'], 8, true],
    ['CANCELLED under cancelled', ['cancelled'], 1, true],
    ['DEADLINE_EXCEEDED under deadline-exceeded', ['deadline-exceeded'], 4, true],
    ['NOT_FOUND under every gRPC trigger', ['unavailable', 'resource-exhausted', 'cancelled', 'deadline-exceeded'], 5, false],
    ['UNAVAILABLE under 5xx (an HTTP trigger)', ['5xx'], 14, false],
  ])('a trailers-only gRPC %s: retried %s', async (_name, on, code, retried) => {
    const r = retryRig({ retry: retry({ on }) });
    r.call(GRPC);
    expect(trailersOnly(r.attempts()[0]!, code)).toBe(!retried);
    await elapse(r.clock, 0);
    expect(r.attempts()).toHaveLength(retried ? 2 : 1);
  });

  it('passes back-pressure on to the attempt it committed, after a retry', async () => {
    const r = retryRig();
    const { sink } = r.call();
    answer(r.attempts()[0]!, 503);
    await elapse(r.clock, 0);
    const second = r.attempts()[1]!;
    second.head(200);
    sink.full = true;
    second.data('a');
    expect(second.data('b')).toBe(false);
    sink.full = false;
    sink.release?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(second.resumes).toBeGreaterThan(0);
  });

  it('gives the client the last failure once the attempts are spent', async () => {
    const r = retryRig({ retry: retry({ attempts: 3 }) });
    const { sink } = r.call();
    answer(r.attempts()[0]!, 503);
    await elapse(r.clock, 0);
    r.attempts()[1]!.fail('reset_before_headers');
    await elapse(r.clock, 0);
    expect(answer(r.attempts()[2]!, 502)).toBe(true);
    expect(r.attempts()).toHaveLength(3);
    expect(sink.status).toBe(502);
  });
});

describe('what the retry step never retries', () => {
  it('a failure after the response head was committed: the client is reset, nothing is sent again', async () => {
    const r = retryRig({ retry: retry({ on: ['5xx', 'reset'] }) });
    const { sink } = r.call();
    const [first] = r.attempts();
    first!.head(200);
    first!.data('half');
    first!.fail('reset_after_headers');
    await elapse(r.clock, 1000);
    expect(r.attempts()).toHaveLength(1);
    expect(sink).toMatchObject({ status: 200, text: 'half', resets: 1 });
  });

  it('a body past the replay buffer, which still streams whole to its one attempt', async () => {
    const r = retryRig({ retry: retry({ bufferLimit: 8, methods: ['PUT'] }) });
    const body = new PassThrough();
    const { call, sink } = r.call({ ...GET, method: 'PUT', body });
    const first = r.attempts()[0]!;
    const whole = 'a body longer than eight bytes';
    body.end(whole);
    expect(await text(first.body!)).toBe(whole);
    expect(call.replayable).toBe(false);
    answer(first, 503);
    await elapse(r.clock, 0);
    expect(r.attempts()).toHaveLength(1);
    expect(sink.status).toBe(503);
  });

  it('a non-idempotent method after the endpoint had it, unless retry.methods names it; a connect failure goes again whatever the method', async () => {
    const r = retryRig();
    const post = r.call({ ...GET, method: 'POST' });
    answer(r.attempts()[0]!, 503);
    await elapse(r.clock, 0);
    expect(r.attempts()).toHaveLength(1);
    expect(post.sink.status).toBe(503);

    const connect = retryRig({ retry: retry({ on: ['connect-failure'] }) });
    connect.call({ ...GET, method: 'POST' });
    connect.attempts()[0]!.fail('connect_failed');
    await elapse(connect.clock, 0);
    expect(connect.attempts()).toHaveLength(2);

    const allowed = retryRig({ retry: retry({ methods: ['GET', 'POST'] }) });
    allowed.call({ ...GET, method: 'POST' });
    answer(allowed.attempts()[0]!, 503);
    await elapse(allowed.clock, 0);
    expect(allowed.attempts()).toHaveLength(2);
  });

  it('past policy.limits.maxRetries retries in flight: the call gets its failure, and the refusal is counted', async () => {
    const r = retryRig({ maxRetries: 1, random: 1 });
    const one = r.call();
    const two = r.call();
    answer(r.attempts()[0]!, 503);
    answer(r.attempts()[1]!, 503);
    expect(one.sink.status).toBe(0);
    expect(two.sink.status).toBe(503);
    await elapse(r.clock, 10);
    expect(r.attempts()).toHaveLength(3);
    const metrics = await r.metrics.metricsText();
    expect(sampleValue(metrics, 'meshlet_retry_overflows_total', { upstream: 'catalog' })).toBe(1);
    // The retry's slot is given back once its attempt ends: the next call may retry.
    answer(r.attempts()[2]!, 200);
    const three = r.call();
    answer(r.attempts()[3]!, 503);
    expect(three.sink.status).toBe(0);
  });
});

describe('when the next attempt goes', () => {
  it('after an exponential backoff with full jitter: random × min(max, base × 2^n)', async () => {
    const r = retryRig({ retry: retry({ attempts: 5, backoff: { base: 10, max: 50 } }), random: 0.5 });
    r.call();
    const waits: number[] = [];
    for (let n = 0; n < 4; n++) {
      answer(r.attempts()[n]!, 503);
      let waited = 0;
      while (r.attempts().length === n + 1) {
        await elapse(r.clock, 1);
        waited++;
      }
      waits.push(waited);
    }
    // 0.5 × 10, 0.5 × 20, 0.5 × 40, 0.5 × 50 (the cap).
    expect(waits).toEqual([5, 10, 20, 25]);
  });

  it('at once to another endpoint after the connection broke under the first attempt; later resets back off', async () => {
    const r = retryRig({ retry: retry({ attempts: 3, on: ['reset'] }), random: 0.5 });
    r.call();
    r.attempts()[0]!.fail('reset_before_headers');
    await elapse(r.clock, 0);
    expect(r.attempts()).toHaveLength(2);
    expect(r.attempts()[1]!.endpoint).not.toBe(r.attempts()[0]!.endpoint);
    r.attempts()[1]!.fail('reset_before_headers');
    await elapse(r.clock, 0);
    expect(r.attempts()).toHaveLength(2);
    // The second retry waits its backoff: 0.5 × 10 × 2^1.
    await elapse(r.clock, 10);
    expect(r.attempts()).toHaveLength(3);
  });

  it('never longer than the cap, whatever the draw', async () => {
    for (const draw of [0, 0.25, 0.999]) {
      const r = retryRig({ retry: retry({ attempts: 2, backoff: { base: 40, max: 60 } }), random: draw });
      r.call();
      answer(r.attempts()[0]!, 503);
      await elapse(r.clock, Math.max(0, Math.ceil(draw * 40) - 1));
      expect(r.attempts()).toHaveLength(draw === 0 ? 2 : 1);
      // The first retry's cap is base × 2^0 = 40 ms.
      await elapse(r.clock, 40);
      expect(r.attempts()).toHaveLength(2);
    }
  });

  it('after retry-after when the server gives one, in seconds or as a date', async () => {
    const r = retryRig({ random: 0 });
    r.call();
    answer(r.attempts()[0]!, 503, { 'retry-after': '2' });
    await elapse(r.clock, 1999);
    expect(r.attempts()).toHaveLength(1);
    await elapse(r.clock, 1);
    expect(r.attempts()).toHaveLength(2);

    const wall = Date.parse('Tue, 01 Dec 2026 12:00:00 GMT');
    const dated = retryRig({ wallNow: wall });
    dated.call();
    answer(dated.attempts()[0]!, 503, { 'retry-after': 'Tue, 01 Dec 2026 12:00:03 GMT' });
    await elapse(dated.clock, 2999);
    expect(dated.attempts()).toHaveLength(1);
    await elapse(dated.clock, 1);
    expect(dated.attempts()).toHaveLength(2);
  });

  it('not at all when retry-after is longer than the call has left: the client gets the 503 and its retry-after', async () => {
    const r = retryRig({ timeoutMs: 1000 });
    const { sink } = r.call();
    expect(answer(r.attempts()[0]!, 503, { 'retry-after': '5' })).toBe(true);
    expect(sink.status).toBe(503);
    await elapse(r.clock, 1000);
    expect(r.attempts()).toHaveLength(1);
  });

  it('after grpc-retry-pushback-ms, and never when the pushback is negative or malformed (gRFC A6)', async () => {
    const r = retryRig({ retry: retry({ on: ['unavailable'] }), random: 0.9 });
    r.call(GRPC);
    trailersOnly(r.attempts()[0]!, 14, { 'grpc-retry-pushback-ms': '300' });
    await elapse(r.clock, 299);
    expect(r.attempts()).toHaveLength(1);
    await elapse(r.clock, 1);
    expect(r.attempts()).toHaveLength(2);

    for (const pushback of ['-1', 'soon']) {
      const refused = retryRig({ retry: retry({ on: ['unavailable'] }) });
      refused.call(GRPC);
      expect(trailersOnly(refused.attempts()[0]!, 14, { 'grpc-retry-pushback-ms': pushback })).toBe(true);
      await elapse(refused.clock, 1000);
      expect(refused.attempts()).toHaveLength(1);
    }
  });

  it('after a per-try timeout, which cancels the slow attempt as timed out and tries another endpoint', async () => {
    const r = retryRig({ retry: retry({ perTryTimeout: 100, on: ['connect-failure'] }) });
    const { sink } = r.call();
    const [first] = r.attempts();
    await elapse(r.clock, 99);
    expect(first!.cancelledAs).toBeUndefined();
    await elapse(r.clock, 1);
    expect(first!.cancelledAs).toBe('timeout');
    await elapse(r.clock, 0);
    const second = r.attempts()[1]!;
    expect(second.endpoint).not.toBe(first!.endpoint);
    // The answer to a cancelled attempt reaches nobody.
    expect(first!.head(200)).toBe(false);
    answer(second, 200);
    expect(sink.status).toBe(200);
  });

  it('a per-try timeout on the last attempt fails the call with 504', async () => {
    const r = retryRig({ retry: retry({ attempts: 2, perTryTimeout: 100 }) });
    const { sink } = r.call();
    await elapse(r.clock, 100);
    await elapse(r.clock, 100);
    expect(r.attempts()).toHaveLength(2);
    expect(sink.failures).toEqual(['504 MESHLET_UPSTREAM_TIMEOUT']);
  });
});

describe('what each attempt of a gRPC call is sent', () => {
  it('grpc-previous-rpc-attempts on a retry, and nothing added to the first attempt', async () => {
    const r = retryRig({ retry: retry({ on: ['unavailable'] }) });
    r.call(GRPC);
    const [first] = r.attempts();
    expect(headerValue(first!.request.headers, 'grpc-previous-rpc-attempts')).toBeUndefined();
    expect(first!.request).toBe(GRPC);
    trailersOnly(first!, 14);
    await elapse(r.clock, 0);
    expect(headerValue(r.attempts()[1]!.request.headers, 'grpc-previous-rpc-attempts')).toBe('1');
    trailersOnly(r.attempts()[1]!, 14);
    await elapse(r.clock, 0);
    expect(headerValue(r.attempts()[2]!.request.headers, 'grpc-previous-rpc-attempts')).toBe('2');
  });

  it("an incoming grpc-timeout caps the call's deadline, and each attempt is sent what is left of it", async () => {
    const r = retryRig({ timeoutMs: 5000, retry: retry({ on: ['unavailable'] }), random: 1 });
    const { sink } = r.call({ ...GRPC, headers: { ...GRPC.headers, 'grpc-timeout': '300m' } });
    expect(headerValue(r.attempts()[0]!.request.headers, 'grpc-timeout')).toBe('300m');
    await elapse(r.clock, 40);
    trailersOnly(r.attempts()[0]!, 14);
    // Backoff of 10 ms (random 1 × base): the retry leaves at 50 ms with 250 ms to go.
    await elapse(r.clock, 10);
    expect(headerValue(r.attempts()[1]!.request.headers, 'grpc-timeout')).toBe('250m');
    await elapse(r.clock, 249);
    expect(sink.failures).toEqual([]);
    await elapse(r.clock, 1);
    expect(sink.failures).toEqual(['504 MESHLET_UPSTREAM_TIMEOUT']);
    expect(r.attempts()[1]!.cancelledAs).toBe('timeout');
  });

  it('a policy timeout shorter than grpc-timeout stays the deadline', async () => {
    const r = retryRig({ timeoutMs: 100 });
    const { sink } = r.call({ ...GRPC, headers: { ...GRPC.headers, 'grpc-timeout': '10S' } });
    expect(headerValue(r.attempts()[0]!.request.headers, 'grpc-timeout')).toBe('100m');
    await elapse(r.clock, 100);
    expect(sink.failures).toEqual(['504 MESHLET_UPSTREAM_TIMEOUT']);
  });
});
