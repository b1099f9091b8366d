import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { MeshletMetrics } from '../../../src/observability/metrics.ts';
import { TrafficStats, quantileMs } from '../../../src/observability/traffic-stats.ts';
import { DURATION_BUCKETS } from '../../../src/observability/endpoint-metrics.ts';

const A = '127.0.0.1:9001';
const B = '127.0.0.1:9002';

function setup() {
  const clock = new FakeClock();
  const metrics = new MeshletMetrics();
  const stats = new TrafficStats(() => metrics.trafficHandles(), clock);
  stats.start();
  return { clock, metrics, stats };
}

/** `n` attempts finished at `endpoint`, each taking `seconds`, `failed` or not. */
function attempts(metrics: MeshletMetrics, upstream: string, endpoint: string, n: number, seconds: number, failed = false): void {
  const handle = metrics.bindEndpoint(upstream, endpoint);
  for (let i = 0; i < n; i++) {
    handle.started();
    handle.finished('http1', failed ? 503 : 200, seconds, undefined, failed);
  }
}

describe('TrafficStats', () => {
  it('gives each endpoint and its upstream the request rate, error percentage and latency of the last 10 s', () => {
    const { clock, metrics, stats } = setup();
    metrics.bindUpstream('pay');
    for (let s = 0; s < 10; s++) {
      attempts(metrics, 'pay', A, 20, 0.002);
      attempts(metrics, 'pay', B, 10, 0.2, true);
      clock.advance(1000);
    }
    const view = stats.read();
    expect(view.windowMs).toBe(10_000);
    const pay = view.upstreams.find((u) => u.name === 'pay')!;
    expect(pay).toMatchObject({ requestsPerSecond: 30, errorPercent: 33.33 });
    const [a, b] = [A, B].map((address) => pay.endpoints.find((e) => e.address === address)!);
    expect(a).toMatchObject({ requestsPerSecond: 20, errorPercent: 0 });
    expect(b).toMatchObject({ requestsPerSecond: 10, errorPercent: 100 });
    // 2 ms falls in the (1 ms, 2.5 ms] bucket, 200 ms in (100 ms, 250 ms].
    expect(a!.p50Ms).toBeGreaterThan(1);
    expect(a!.p99Ms).toBeLessThanOrEqual(2.5);
    expect(b!.p50Ms).toBeGreaterThan(100);
    expect(b!.p99Ms).toBeLessThanOrEqual(250);
    // Two thirds of the upstream's attempts are fast: its p50 is A's, its p99 B's.
    expect(pay.p50Ms).toBeLessThanOrEqual(2.5);
    expect(pay.p99Ms).toBeGreaterThan(100);
  });

  it('forgets what happened before the window: a failure burst 15 s ago no longer counts', () => {
    const { clock, metrics, stats } = setup();
    attempts(metrics, 'pay', A, 100, 0.01, true);
    clock.advance(5000);
    expect(stats.read().upstreams[0]).toMatchObject({ requestsPerSecond: 20, errorPercent: 100 });
    for (let s = 0; s < 15; s++) {
      attempts(metrics, 'pay', A, 5, 0.001);
      clock.advance(1000);
    }
    const later = stats.read();
    expect(later.windowMs).toBe(10_000);
    expect(later.upstreams[0]).toMatchObject({ requestsPerSecond: 5, errorPercent: 0 });
  });

  it('counts retries, fallbacks, ejections and the agent\'s own errors in the window only', () => {
    const { clock, metrics, stats } = setup();
    const pay = metrics.bindUpstream('pay');
    pay.retried('http_503');
    pay.ejection('consecutive');
    clock.advance(12_000);
    pay.retried('reset_before_headers');
    pay.retried('http_503');
    pay.fallbackServed('static', 'MESHLET_CIRCUIT_OPEN');
    pay.ejection('success_rate');
    pay.error('MESHLET_CIRCUIT_OPEN');
    pay.error('MESHLET_CIRCUIT_OPEN');
    clock.advance(500);
    expect(stats.read().upstreams[0]).toMatchObject({ name: 'pay', retries: 2, fallbacks: 1, ejections: 1, errors: { MESHLET_CIRCUIT_OPEN: 2 }, requestsPerSecond: 0, p50Ms: null, p99Ms: null });
  });

  it('reports a young agent over the time it has run, and an endpoint added mid-window from zero', () => {
    const { clock, metrics, stats } = setup();
    clock.advance(2000);
    attempts(metrics, 'pay', A, 10, 0.001);
    clock.advance(2000);
    const view = stats.read();
    expect(view.windowMs).toBe(4000);
    expect(view.upstreams[0]!.endpoints[0]).toMatchObject({ address: A, requestsPerSecond: 2.5 });
  });

  it('drops a removed endpoint and keeps its memory bounded: one sample per second of the window', () => {
    const { clock, metrics, stats } = setup();
    attempts(metrics, 'pay', A, 1, 0.001);
    attempts(metrics, 'pay', B, 1, 0.001);
    metrics.removeEndpoint('pay', B);
    clock.advance(60_000);
    expect(stats.read().upstreams[0]!.endpoints.map((e) => e.address)).toEqual([A]);
    expect((stats as unknown as { samples: unknown[] }).samples.length).toBeLessThanOrEqual(11);
    stats.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('quantileMs', () => {
  it('interpolates inside the bucket the rank falls in, as histogram_quantile does', () => {
    const buckets = new Float64Array(DURATION_BUCKETS.length + 1);
    // 100 observations in (10 ms, 25 ms].
    buckets[DURATION_BUCKETS.indexOf(0.025)] = 100;
    expect(quantileMs(buckets, 0.5)).toBe(17.5);
    expect(quantileMs(buckets, 0.99)).toBeCloseTo(24.85, 3);
    expect(quantileMs(new Float64Array(buckets.length), 0.5)).toBeNull();
    const slow = new Float64Array(buckets.length);
    slow[DURATION_BUCKETS.length] = 3;
    expect(quantileMs(slow, 0.99)).toBe(10_000);
  });
});
