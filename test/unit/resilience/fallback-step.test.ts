// policy.fallback on the in-memory forwarder and a fake clock: which failures it answers for,
// its HTTP and gRPC shapes, that it never replaces a committed response, and the stale-if-error
// cache's bounds.
import { describe, expect, it } from 'vitest';
import { LIMITS_DEFAULTS, STALE_IF_ERROR_DEFAULTS } from '../../../src/config/defaults.ts';
import type { FallbackConfig, StaleIfErrorConfig } from '../../../src/config/types.ts';
import type { ProxiedRequest } from '../../../src/proxy/call/proxied-request.ts';
import type { AttemptReason } from '../../../src/proxy/call/outcome.ts';
import { prepareUpstream } from '../../../src/proxy/upstream/upstream.ts';
import { fallback } from '../../../src/resilience/fallback-step.ts';
import { transparentRetry } from '../../../src/resilience/transparent-retry.ts';
import { callRig, GET, type CallRig } from '../../helpers/in-memory-forwarder.ts';
import { sampleValue } from '../observability/prometheus-text.ts';

const STATIC: FallbackConfig = { status: 503, headers: { 'content-type': 'application/json' }, body: '{"degraded":true}' };
const accessLines = (rig: CallRig) => rig.lines.filter((line) => line['log'] === 'access');

function rig(config: FallbackConfig = STATIC, addresses = ['127.0.0.1:1']): CallRig {
  return callRig({ addresses, steps: [fallback, transparentRetry], policy: { fallback: config } });
}

function stale(limits: Partial<StaleIfErrorConfig> = {}, withStatic = false): FallbackConfig {
  const staleIfError = { ...STALE_IF_ERROR_DEFAULTS, ...limits };
  return withStatic ? { ...STATIC, staleIfError } : { staleIfError };
}

const get = (path: string, extra: Partial<ProxiedRequest> = {}): ProxiedRequest => ({ ...GET, path, ...extra });

/** A call to `request` answered 200 with `body` and `headers` by the endpoint. */
function answer(r: CallRig, request: ProxiedRequest, body: string, headers: Record<string, string> = {}): void {
  r.call(request);
  const attempt = r.attempts().at(-1)!;
  attempt.head(200, { 'content-type': 'text/plain', ...headers });
  if (body !== '') attempt.data(body);
  attempt.end();
}

/** A call to `request` whose attempt fails to connect; returns what the client got. */
function failing(r: CallRig, request: ProxiedRequest, reason: AttemptReason = 'connect_failed') {
  const { sink } = r.call(request);
  r.attempts().at(-1)!.fail(reason);
  return sink;
}

describe('the static fallback', () => {
  it.each<AttemptReason>(['connect_failed', 'connect_timeout', 'reset_before_headers', 'refused_stream', 'goaway', 'timeout', 'bad_response', 'overflow'])(
    'answers a call whose attempt ended %s with the configured response, marked static',
    (reason) => {
      const r = rig();
      const { sink } = r.call();
      const attempt = r.attempts()[0]!;
      attempt.fail(reason);
      // refused_stream and goaway go once more on their own (transparent retry); the second fails too.
      if (r.attempts().length > 1) r.attempts()[1]!.fail(reason);
      expect(sink).toMatchObject({ status: 503, ended: true, text: '{"degraded":true}', failures: [] });
      expect(sink.headers).toMatchObject({ 'content-type': 'application/json', 'content-length': '17', 'x-meshlet-fallback': 'static' });
    },
  );

  it('answers a call no endpoint can take (all unhealthy), and logs it as a fallback with its cause', async () => {
    const r = rig();
    r.upstream.setHealth('127.0.0.1:1', 'unhealthy');
    const { sink } = r.call();
    expect(r.attempts()).toHaveLength(0);
    expect(sink).toMatchObject({ status: 503, text: '{"degraded":true}', failures: [] });
    expect(accessLines(r)).toEqual([expect.objectContaining({ status: 503, fallback: 'static', fallback_cause: 'MESHLET_NO_HEALTHY_ENDPOINT' })]);
    const text = await r.metrics.metricsText();
    expect(sampleValue(text, 'meshlet_fallbacks_total', { upstream: 'catalog', kind: 'static', cause: 'MESHLET_NO_HEALTHY_ENDPOINT' })).toBe(1);
    // Not an error the client met.
    expect(sampleValue(text, 'meshlet_upstream_errors_total', { upstream: 'catalog', code: 'MESHLET_NO_HEALTHY_ENDPOINT' })).toBeUndefined();
  });

  it('answers a call with no endpoint yet and a full queue (overflow)', () => {
    const r = callRig({ addresses: [], steps: [fallback], policy: { fallback: STATIC, limits: { ...LIMITS_DEFAULTS, maxConcurrent: 10, maxPending: 0 } } });
    const { sink } = r.call();
    expect(sink).toMatchObject({ status: 503, text: '{"degraded":true}', failures: [] });
  });

  it('records one coalesced decision per second with the cause in words', () => {
    const r = rig();
    for (let i = 0; i < 5; i++) failing(r, GET);
    r.clock.advance(1000);
    failing(r, GET);
    const decisions = r.decisions.recent().filter((d) => d.kind === 'fallback');
    expect(decisions).toHaveLength(2);
    expect(decisions[0]).toMatchObject({ scope: 'catalog', count: 1 });
    expect(decisions[0]!.reason).toMatch(/^served the static fallback \(503\) in place of MESHLET_CONNECT_FAILED: connect_failed/);
    expect(decisions[1]).toMatchObject({ count: 5 });
  });

  it('answers a gRPC call with a trailers-only status, marked static', () => {
    const r = rig({ grpcStatus: 'UNAVAILABLE', message: 'payments is degraded' });
    const { sink } = r.call({ ...GET, method: 'POST', path: '/pay.Payments/Charge', grpc: true });
    r.attempts()[0]!.fail('reset_before_headers');
    expect(sink).toMatchObject({ status: 200, ended: true, text: '', failures: [] });
    expect(sink.headers).toMatchObject({ 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'payments is degraded', 'x-meshlet-fallback': 'static' });
    expect(accessLines(r)).toEqual([expect.objectContaining({ status: 200, grpc_status: 14, fallback: 'static', fallback_cause: 'MESHLET_UPSTREAM_RESET' })]);
  });

  it('never replaces a committed response: a break after the head resets the client as before', () => {
    const r = rig();
    const { sink } = r.call();
    const attempt = r.attempts()[0]!;
    attempt.head(200);
    attempt.data('part');
    attempt.fail('reset_after_headers');
    expect(sink).toMatchObject({ status: 200, text: 'part', resets: 1, ended: false });
    expect(sink.headers['x-meshlet-fallback']).toBeUndefined();
  });

  it("relays the upstream's own 5xx answer instead of replacing it", () => {
    const r = rig();
    const { sink } = r.call();
    const attempt = r.attempts()[0]!;
    attempt.head(503, { 'retry-after': '2' });
    attempt.data('busy');
    attempt.end();
    expect(sink).toMatchObject({ status: 503, text: 'busy', ended: true });
    expect(sink.headers['x-meshlet-fallback']).toBeUndefined();
  });

  it('leaves a cancelled call and a refused request to fail as before', () => {
    const r = rig();
    const cancelled = r.call();
    cancelled.call.onClientClose();
    expect(cancelled.sink.status).toBe(0);
    const refused = failing(r, GET, 'bad_request');
    expect(refused.failures).toEqual(['400 MESHLET_BAD_REQUEST']);
  });

  it('changes nothing for an upstream without a fallback', () => {
    const r = callRig({ steps: [fallback] });
    const sink = failing(r, GET);
    expect(sink.failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
  });
});

describe('stale-if-error', () => {
  it('serves the last good answer to a GET when a later call fails, marked stale with its age', () => {
    const r = rig(stale());
    answer(r, get('/items?page=2'), 'old items', { age: '3' });
    r.clock.advance(5000);
    const sink = failing(r, get('/items?page=2'));
    expect(sink).toMatchObject({ status: 200, text: 'old items', ended: true, failures: [] });
    expect(sink.headers).toMatchObject({ 'content-type': 'text/plain', 'content-length': '9', age: '8', 'x-meshlet-fallback': 'stale' });
    expect(accessLines(r).at(-1)).toMatchObject({ fallback: 'stale', fallback_cause: 'MESHLET_CONNECT_FAILED' });
  });

  it('keeps answers by authority, path and query: another query has none, and fails', () => {
    const r = rig(stale());
    answer(r, get('/items?page=2'), 'page two');
    expect(failing(r, get('/items?page=3')).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
    expect(failing(r, get('/items?page=2', { authority: 'other' })).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
  });

  it('falls back to the static response when nothing is kept for the request', () => {
    const r = rig(stale({}, true));
    answer(r, get('/a'), 'a');
    expect(failing(r, get('/a')).headers['x-meshlet-fallback']).toBe('stale');
    expect(failing(r, get('/b'))).toMatchObject({ status: 503, text: '{"degraded":true}' });
  });

  it('serves nothing older than maxAge', () => {
    const r = rig(stale({ maxAge: 10_000 }));
    answer(r, get('/a'), 'a');
    r.clock.advance(10_001);
    expect(failing(r, get('/a')).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const r = rig(stale({ maxEntries: 2 }));
    answer(r, get('/a'), 'a');
    answer(r, get('/b'), 'b');
    // Serving /a makes it the most recently used; /c then pushes /b out.
    expect(failing(r, get('/a')).text).toBe('a');
    answer(r, get('/c'), 'c');
    expect(failing(r, get('/b')).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
    expect(failing(r, get('/a')).text).toBe('a');
    expect(failing(r, get('/c')).text).toBe('c');
    expect(r.upstream.settings.fallback!.stale!.size).toBe(2);
  });

  it('keeps at most maxBytes in all, and no body over maxEntryBytes, with or without a content-length', () => {
    const r = rig(stale({ maxBytes: 1000, maxEntryBytes: 400 }));
    const cache = r.upstream.settings.fallback!.stale!;
    answer(r, get('/a'), 'a'.repeat(300));
    answer(r, get('/b'), 'b'.repeat(300));
    answer(r, get('/c'), 'c'.repeat(300));
    expect(cache.bytes).toBeLessThanOrEqual(1000);
    expect(failing(r, get('/a')).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
    expect(failing(r, get('/c')).text).toBe('c'.repeat(300));
    // Streamed past the cap without saying its length, and announced past it.
    r.call(get('/big'));
    const big = r.attempts().at(-1)!;
    big.head(200);
    big.data('x'.repeat(300));
    big.data('x'.repeat(300));
    big.end();
    answer(r, get('/long'), 'y'.repeat(10), { 'content-length': '500' });
    expect(failing(r, get('/big')).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
    expect(failing(r, get('/long')).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
  });

  it.each<[string, ProxiedRequest, Record<string, string>]>([
    ['a POST', get('/a', { method: 'POST' }), {}],
    ['a request with credentials', get('/a', { headers: ['authorization', 'Bearer x'] }), {}],
    ['cache-control: no-store', get('/a'), { 'cache-control': 'no-store' }],
    ['cache-control: private', get('/a'), { 'cache-control': 'max-age=60, private' }],
    ['a set-cookie', get('/a'), { 'set-cookie': 'session=1' }],
    ['a vary', get('/a'), { vary: 'accept-language' }],
  ])('does not keep the answer to %s', (_name, request, headers) => {
    const r = rig(stale());
    answer(r, request, 'secret', headers);
    expect(failing(r, request).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
  });

  it('does not keep an answer that is not a 200, nor one whose trailers it would lose', () => {
    const r = rig(stale());
    r.call(get('/a'));
    const notFound = r.attempts().at(-1)!;
    notFound.head(404);
    notFound.data('no');
    notFound.end();
    r.call(get('/b'));
    const trailed = r.attempts().at(-1)!;
    trailed.head(200);
    trailed.data('b');
    trailed.end({ 'x-checksum': '1' });
    expect(failing(r, get('/a')).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
    expect(failing(r, get('/b')).failures).toEqual(['503 MESHLET_CONNECT_FAILED']);
  });

  it('copies a hot answer at most once a second, and keeps the newest after that', () => {
    const r = rig(stale());
    answer(r, get('/a'), 'first');
    answer(r, get('/a'), 'second');
    expect(failing(r, get('/a')).text).toBe('first');
    r.clock.advance(1000);
    answer(r, get('/a'), 'third');
    expect(failing(r, get('/a')).text).toBe('third');
  });

  it('keeps what it holds over a reload that leaves the fallback as it was', () => {
    const r = rig(stale());
    answer(r, get('/a'), 'a');
    const config = { ...r.upstream.config, policy: { ...r.upstream.config.policy, timeout: 5000 } };
    r.upstream.commit(prepareUpstream(config, { clock: r.clock, random: () => 0 }, r.upstream));
    expect(failing(r, get('/a')).text).toBe('a');
  });

  it('keeps its own copy: the chunks streamed to the client may be reused after', () => {
    const r = rig(stale());
    r.call(get('/a'));
    const attempt = r.attempts().at(-1)!;
    attempt.head(200);
    const chunk = Buffer.from('abc');
    (attempt as unknown as { handler: { onData(c: Buffer): boolean } }).handler.onData(chunk);
    chunk.fill(0x7a);
    attempt.end();
    expect(failing(r, get('/a')).text).toBe('abc');
  });
});
