// An inbound service on the in-memory forwarder and a fake clock: its one local application
// behind its admission. At most maxConcurrent calls reach it, the rest are shed at once with
// retry-after; a rate limit answers 429; an adaptive limit follows the application's latency;
// every way a call ends frees its place; a reload that keeps the target keeps its forwarder.
import { describe, expect, it } from 'vitest';
import { SHED_RETRY_AFTER_SECONDS } from '../../../src/proxy/inbound/inbound-admission.ts';
import { inboundRig, ordersService, type InboundRig } from '../../helpers/in-memory-forwarder.ts';
import { sampleValue } from '../observability/prometheus-text.ts';

/** Answers every attempt the application got and has not answered, after `latencyMs`. */
function answerAll(rig: InboundRig, from: number, latencyMs: number): number {
  const attempts = rig.attempts();
  rig.clock.advance(latencyMs);
  for (let i = from; i < attempts.length; i++) {
    attempts[i]!.head(200, {}, true);
    attempts[i]!.end();
  }
  return attempts.length;
}

const ADAPTIVE = { minLimit: 2, maxLimit: 64, initialLimit: 8, tolerance: 1.25, smoothing: 0.5, sampleWindow: 100, minRttInterval: 600_000 };

describe('InboundService', () => {
  it('sheds the call beyond maxConcurrent at once with 503 MESHLET_OVERLOADED and retry-after, never reaching the application', () => {
    const rig = inboundRig(ordersService({ maxConcurrent: 2 }));
    rig.call();
    rig.call();
    const third = rig.call();
    expect(rig.attempts()).toHaveLength(2);
    expect(third.sink.failures).toEqual(['503 MESHLET_OVERLOADED']);
    expect(third.sink.errors[0]!.retryAfterSeconds).toBe(SHED_RETRY_AFTER_SECONDS);
    expect(third.sink.errors[0]!.message).toBe('2 calls to the local application are in flight, the most services[].limits.maxConcurrent (2) allows');
    const [shed] = rig.decisions.recent();
    expect(shed).toMatchObject({ kind: 'shed', scope: 'service:orders', count: 1, reason: 'shed: 2 calls in flight to 127.0.0.1:8080, the most services[].limits.maxConcurrent (2) allows now (2)' });
  });

  it('frees a place however a call ends: a whole response, a failure, a client gone, a timeout', () => {
    const rig = inboundRig(ordersService({ maxConcurrent: 1 }));
    rig.call();
    rig.attempts()[0]!.head(200);
    rig.attempts()[0]!.end();
    rig.call();
    rig.attempts()[1]!.fail('reset_before_headers');
    const gone = rig.call();
    gone.call.onClientClose();
    expect(rig.attempts()).toHaveLength(3);
    expect(rig.service.describe()).toMatchObject({ admission: { inFlight: 0 } });

    const timed = inboundRig(ordersService({ maxConcurrent: 1 }, { timeoutMs: 50 }));
    const first = timed.call();
    timed.clock.advance(50);
    expect(first.sink.failures).toEqual(['504 MESHLET_UPSTREAM_TIMEOUT']);
    timed.call();
    expect(timed.attempts()).toHaveLength(2);
  });

  it('answers past services[].limits.rateLimit with 429 MESHLET_RATE_LIMITED and when a token is next due', () => {
    const rig = inboundRig(ordersService({ rateLimit: { requestsPerSecond: 10, burst: 2 } }));
    rig.call();
    rig.call();
    const over = rig.call();
    expect(over.sink.failures).toEqual(['429 MESHLET_RATE_LIMITED']);
    expect(over.sink.errors[0]!.retryAfterSeconds).toBe(1);
    expect(rig.attempts()).toHaveLength(2);
    expect(rig.decisions.recent()[0]).toMatchObject({ kind: 'rate_limited', scope: 'service:orders', reason: 'rate limited: over services[].limits.rateLimit (10 per second, burst 2); next call admitted in 100 ms' });
    rig.clock.advance(100);
    expect(rig.call().sink.failures).toEqual([]);
    expect(rig.attempts()).toHaveLength(3);
  });

  it('lowers its adaptive limit when the application slows down, shows it as a gauge, and tells the move', async () => {
    const rig = inboundRig(ordersService({ adaptive: ADAPTIVE }));
    let answered = 0;
    // Offered 40 at once, every 10 ms: the limit caps what the application sees.
    const round = (latencyMs: number): void => {
      for (let i = 0; i < 40; i++) rig.call();
      answered = answerAll(rig, answered, latencyMs);
    };
    for (let i = 0; i < 60; i++) round(10);
    const healthy = (rig.service.describe() as { admission: { concurrencyLimit: number } }).admission.concurrencyLimit;
    expect(healthy).toBeGreaterThan(ADAPTIVE.initialLimit);
    for (let i = 0; i < 60; i++) round(40);
    const slow = (rig.service.describe() as { admission: { concurrencyLimit: number } }).admission.concurrencyLimit;
    expect(slow).toBeLessThan(healthy / 2);
    expect(sampleValue(await rig.metrics.metricsText(), 'meshlet_concurrency_limit', { service: 'orders' })).toBe(slow);
    const moves = rig.decisions.recent().filter((d) => d.kind === 'concurrency_limit_changed');
    expect(moves.at(-1)).toMatchObject({ scope: 'service:orders', data: { to: slow, minRttMs: 10 } });
    expect(moves.at(-1)!.reason).toMatch(/^concurrency limit \d+ → \d+: window median latency 40\.0 ms is 4\.00× the minimum RTT 10\.0 ms/);
  });

  it('keeps its forwarder, and what its adaptive limit learnt, across a reload that keeps the target', () => {
    const rig = inboundRig(ordersService({ adaptive: ADAPTIVE }, { timeoutMs: 1000 }));
    let answered = 0;
    for (let i = 0; i < 30; i++) {
      for (let j = 0; j < 40; j++) rig.call();
      answered = answerAll(rig, answered, 10);
    }
    const learnt = (rig.service.describe() as { admission: { concurrencyLimit: number } }).admission.concurrencyLimit;
    rig.reload(ordersService({ adaptive: ADAPTIVE }, { timeoutMs: 2000 }));
    expect(rig.pool.made).toHaveLength(1);
    expect(rig.pool.made[0]!.closed).toBe(false);
    expect(rig.service.timeoutMs).toBe(2000);
    expect(rig.service.describe()).toMatchObject({ admission: { concurrencyLimit: learnt } });
    // A rate limit added beside it leaves the adaptive limit as it is.
    rig.reload(ordersService({ adaptive: ADAPTIVE, rateLimit: { requestsPerSecond: 100, burst: 100 } }, { timeoutMs: 2000 }));
    expect(rig.service.describe()).toMatchObject({ admission: { concurrencyLimit: learnt, rateLimit: { requestsPerSecond: 100 } } });

    rig.reload(ordersService({ maxConcurrent: 1 }, { timeoutMs: 2000 }));
    expect(rig.service.describe()).toMatchObject({ admission: { concurrencyLimit: 1, adaptive: null } });
    rig.reload(ordersService({ maxConcurrent: 1 }, { target: '127.0.0.1:8081' }));
    expect(rig.pool.made.map((f) => [f.address, f.closed])).toEqual([['127.0.0.1:8080', true], ['127.0.0.1:8081', false]]);
    rig.call();
    expect(rig.attempts().at(-1)!.endpoint).toBe('127.0.0.1:8081');
  });

  it('says in its access-log line that the call was inbound', () => {
    const rig = inboundRig();
    rig.call();
    rig.attempts()[0]!.head(200, {}, true);
    rig.attempts()[0]!.end();
    expect(rig.lines.find((line) => line.log === 'access')).toMatchObject({ upstream: 'inbound:orders', direction: 'inbound', endpoint: '127.0.0.1:8080', status: 200 });
  });
});
