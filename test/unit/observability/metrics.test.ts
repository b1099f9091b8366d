import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MeshletMetrics, type WireProtocol } from '../../../src/observability/metrics.ts';
import { parseSamples, sampleValue, samplesOf } from './prometheus-text.ts';

const EP1 = '127.0.0.1:50051';
const EP2 = '127.0.0.1:50052';

describe('MeshletMetrics request series', () => {
  it('counts finished attempts by protocol and status class', async () => {
    const metrics = new MeshletMetrics();
    const ep = metrics.bindEndpoint('catalog', EP1);
    for (const status of [200, 204, 301, 404, 503, 502]) {
      ep.started();
      ep.finished('http1', status, 0.002, undefined, false);
    }
    ep.started();
    ep.finished('http2', 200, 0.002, undefined, false);

    const text = await metrics.metricsText();
    const requests = (protocol: string, statusClass: string) =>
      sampleValue(text, 'meshlet_requests_total', { classification: 'success', upstream: 'catalog', endpoint: EP1, protocol, status_class: statusClass });
    expect(requests('http1', '2xx')).toBe(2);
    expect(requests('http1', '3xx')).toBe(1);
    expect(requests('http1', '4xx')).toBe(1);
    expect(requests('http1', '5xx')).toBe(2);
    expect(requests('http2', '2xx')).toBe(1);
    expect(requests('http1', '1xx')).toBeUndefined();
    expect(requests('grpc', '2xx')).toBeUndefined();
  });

  it('counts a status outside 100-599 as a server error and 101 as 1xx', async () => {
    const metrics = new MeshletMetrics();
    const ep = metrics.bindEndpoint('catalog', EP1);
    ep.finished('http1', 0, 0.001, undefined, false);
    ep.finished('http1', 700, 0.001, undefined, false);
    ep.finished('http1', 101, 0.001, undefined, false);

    const text = await metrics.metricsText();
    const labels = { upstream: 'catalog', endpoint: EP1, protocol: 'http1' };
    expect(sampleValue(text, 'meshlet_requests_total', { classification: 'success', ...labels, status_class: '5xx' })).toBe(2);
    expect(sampleValue(text, 'meshlet_requests_total', { classification: 'success', ...labels, status_class: '1xx' })).toBe(1);
  });

  it('counts gRPC responses by status code name, unknown codes as UNKNOWN', async () => {
    const metrics = new MeshletMetrics();
    const ep = metrics.bindEndpoint('payments', EP1);
    ep.finished('grpc', 200, 0.01, 0, false);
    ep.finished('grpc', 200, 0.01, 14, true);
    ep.finished('grpc', 200, 0.01, 14, true);
    ep.finished('grpc', 200, 0.01, 99, true);

    const text = await metrics.metricsText();
    const grpc = (code: string) =>
      sampleValue(text, 'meshlet_grpc_responses_total', { upstream: 'payments', endpoint: EP1, grpc_status: code });
    expect(grpc('OK')).toBe(1);
    expect(grpc('UNAVAILABLE')).toBe(2);
    expect(grpc('UNKNOWN')).toBe(1);
    // A failing grpc-status in a 200 response counts as a failure, as the outcome judged it.
    expect(sampleValue(text, 'meshlet_requests_total', { classification: 'success', upstream: 'payments', endpoint: EP1, protocol: 'grpc', status_class: '2xx' })).toBe(1);
    expect(sampleValue(text, 'meshlet_requests_total', { classification: 'failure', upstream: 'payments', endpoint: EP1, protocol: 'grpc', status_class: '2xx' })).toBe(3);
  });

  it('puts durations in cumulative buckets with sum and count', async () => {
    const metrics = new MeshletMetrics();
    const ep = metrics.bindEndpoint('catalog', EP1);
    for (const seconds of [0.0003, 0.003, 0.3, 20]) ep.finished('http1', 200, seconds, undefined, false);

    const text = await metrics.metricsText();
    const labels = { upstream: 'catalog', endpoint: EP1, protocol: 'http1' };
    const bucket = (le: string) => sampleValue(text, 'meshlet_request_duration_seconds_bucket', { ...labels, le });
    expect(bucket('0.0005')).toBe(1);
    expect(bucket('0.001')).toBe(1);
    expect(bucket('0.005')).toBe(2);
    expect(bucket('0.5')).toBe(3);
    expect(bucket('10')).toBe(3);
    expect(bucket('+Inf')).toBe(4);
    expect(sampleValue(text, 'meshlet_request_duration_seconds_count', labels)).toBe(4);
    expect(sampleValue(text, 'meshlet_request_duration_seconds_sum', labels)).toBeCloseTo(20.3033, 6);
    expect(text).toContain('# TYPE meshlet_request_duration_seconds histogram');
  });

  it('reports in-flight requests per upstream and attempts per endpoint', async () => {
    const metrics = new MeshletMetrics();
    const upstream = metrics.bindUpstream('catalog');
    const ep = metrics.bindEndpoint('catalog', EP1);
    upstream.requestStarted();
    upstream.requestStarted();
    upstream.requestStarted();
    upstream.requestFinished();
    ep.started();
    ep.started();
    ep.finished('http1', 200, 0.001, undefined, false);

    const text = await metrics.metricsText();
    expect(sampleValue(text, 'meshlet_requests_in_flight', { upstream: 'catalog' })).toBe(2);
    expect(sampleValue(text, 'meshlet_endpoint_requests_in_flight', { upstream: 'catalog', endpoint: EP1 })).toBe(1);
  });

  it('counts upstream errors by code and folds codes past the cap into MESHLET_OTHER', async () => {
    const metrics = new MeshletMetrics();
    const upstream = metrics.bindUpstream('catalog');
    upstream.error('MESHLET_CONNECT_FAILED');
    upstream.error('MESHLET_CONNECT_FAILED');
    for (let i = 0; i < 100; i++) upstream.error(`BOGUS_${i}`);

    const text = await metrics.metricsText();
    expect(sampleValue(text, 'meshlet_upstream_errors_total', { upstream: 'catalog', code: 'MESHLET_CONNECT_FAILED' })).toBe(2);
    const series = samplesOf(text, 'meshlet_upstream_errors_total', { upstream: 'catalog' });
    expect(series.length).toBeLessThanOrEqual(65);
    expect(series.reduce((sum, s) => sum + s.value, 0)).toBe(102);
    expect(sampleValue(text, 'meshlet_upstream_errors_total', { upstream: 'catalog', code: 'MESHLET_OTHER' })).toBeGreaterThan(0);
  });

  it('keeps counting across a rebind, as a config reload that keeps the endpoint does', async () => {
    const metrics = new MeshletMetrics();
    metrics.bindEndpoint('catalog', EP1).finished('http1', 200, 0.001, undefined, false);
    metrics.bindUpstream('catalog').error('MESHLET_TIMEOUT');
    metrics.bindEndpoint('catalog', EP1).finished('http1', 200, 0.001, undefined, false);
    metrics.bindUpstream('catalog').error('MESHLET_TIMEOUT');

    const text = await metrics.metricsText();
    expect(sampleValue(text, 'meshlet_requests_total', { classification: 'success', upstream: 'catalog', endpoint: EP1, protocol: 'http1', status_class: '2xx' })).toBe(2);
    expect(sampleValue(text, 'meshlet_upstream_errors_total', { upstream: 'catalog', code: 'MESHLET_TIMEOUT' })).toBe(2);
  });

  it('agrees between counters and histogram for any mix of attempts', async () => {
    const protocols: WireProtocol[] = ['http1', 'http2', 'grpc'];
    const attempt = fc.record({
      protocol: fc.constantFrom(...protocols),
      status: fc.integer({ min: 0, max: 700 }),
      seconds: fc.double({ min: 0, max: 30, noNaN: true }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(attempt, { maxLength: 50 }), async (attempts) => {
        const metrics = new MeshletMetrics();
        const ep = metrics.bindEndpoint('u', EP1);
        for (const a of attempts) ep.finished(a.protocol, a.status, a.seconds, undefined, false);
        const text = await metrics.metricsText();
        for (const protocol of protocols) {
          const sent = attempts.filter((a) => a.protocol === protocol).length;
          const counted = samplesOf(text, 'meshlet_requests_total', { protocol }).reduce((sum, s) => sum + s.value, 0);
          expect(counted).toBe(sent);
          const buckets = samplesOf(text, 'meshlet_request_duration_seconds_bucket', { protocol }).map((s) => s.value);
          expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
          expect(buckets.at(-1) ?? 0).toBe(sent);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('MeshletMetrics removal', () => {
  it('drops every series of a removed upstream and keeps the others', async () => {
    const metrics = new MeshletMetrics();
    for (const upstream of ['catalog', 'payments']) {
      metrics.bindUpstream(upstream).requestStarted();
      metrics.bindUpstream(upstream).error('MESHLET_CONNECT_FAILED');
      metrics.bindEndpoint(upstream, EP1).finished('http1', 200, 0.001, undefined, false);
      metrics.bindEndpoint(upstream, EP2).finished('grpc', 200, 0.001, 0, false);
      metrics.setEndpointCounts(upstream, { healthy: 2, unhealthy: 0, unknown: 0 });
    }
    expect(parseSamples(await metrics.metricsText()).some((s) => s.labels['upstream'] === 'catalog')).toBe(true);

    metrics.removeUpstream('catalog');

    const samples = parseSamples(await metrics.metricsText());
    expect(samples.filter((s) => s.labels['upstream'] === 'catalog')).toEqual([]);
    const remaining = new Set(samples.filter((s) => s.labels['upstream'] === 'payments').map((s) => s.name));
    expect([...remaining].sort()).toEqual([
      'meshlet_endpoint_requests_in_flight',
      'meshlet_endpoints',
      'meshlet_grpc_responses_total',
      'meshlet_outlier_ejected_endpoints',
      'meshlet_outlier_ejections_total',
      'meshlet_request_duration_seconds_bucket',
      'meshlet_request_duration_seconds_count',
      'meshlet_request_duration_seconds_sum',
      'meshlet_requests_in_flight',
      'meshlet_requests_total',
      'meshlet_upstream_errors_total',
    ]);
  });

  it('drops only the removed endpoint, and a re-added endpoint starts from zero', async () => {
    const metrics = new MeshletMetrics();
    metrics.bindEndpoint('catalog', EP1).finished('http1', 200, 0.001, undefined, false);
    metrics.bindEndpoint('catalog', EP2).finished('http1', 200, 0.001, undefined, false);

    metrics.removeEndpoint('catalog', EP1);
    let text = await metrics.metricsText();
    expect(samplesOf(text, 'meshlet_requests_total', { endpoint: EP1 })).toEqual([]);
    expect(samplesOf(text, 'meshlet_request_duration_seconds_count', { endpoint: EP1 })).toEqual([]);
    expect(samplesOf(text, 'meshlet_requests_total', { endpoint: EP2 })).toHaveLength(1);

    metrics.bindEndpoint('catalog', EP1).finished('http1', 500, 0.001, undefined, false);
    text = await metrics.metricsText();
    expect(samplesOf(text, 'meshlet_requests_total', { endpoint: EP1 }).map((s) => [s.labels['status_class'], s.value]))
      .toEqual([['5xx', 1]]);
  });

  it('stays the same size across many reloads that replace every endpoint', async () => {
    const metrics = new MeshletMetrics();
    let previous: string | undefined;
    for (let reload = 0; reload < 50; reload++) {
      const address = `10.0.0.${reload}:80`;
      if (previous !== undefined) metrics.removeEndpoint('catalog', previous);
      metrics.bindEndpoint('catalog', address).finished('http1', 200, 0.001, undefined, false);
      previous = address;
    }
    const text = await metrics.metricsText();
    expect(samplesOf(text, 'meshlet_requests_total', { upstream: 'catalog' })).toHaveLength(1);
  });
});

describe('MeshletMetrics cold-path series', () => {
  it('reports endpoint counts by health', async () => {
    const metrics = new MeshletMetrics();
    metrics.setEndpointCounts('catalog', { healthy: 3, unhealthy: 1, unknown: 0 });
    metrics.setEndpointCounts('catalog', { healthy: 2, unhealthy: 2, unknown: 0 });

    const text = await metrics.metricsText();
    expect(sampleValue(text, 'meshlet_endpoints', { upstream: 'catalog', health: 'healthy' })).toBe(2);
    expect(sampleValue(text, 'meshlet_endpoints', { upstream: 'catalog', health: 'unhealthy' })).toBe(2);
    expect(sampleValue(text, 'meshlet_endpoints', { upstream: 'catalog', health: 'unknown' })).toBe(0);
  });

  it('counts config reloads, both results present from the start', async () => {
    const metrics = new MeshletMetrics();
    let text = await metrics.metricsText();
    expect(sampleValue(text, 'meshlet_config_reloads_total', { result: 'applied' })).toBe(0);
    expect(sampleValue(text, 'meshlet_config_reloads_total', { result: 'rejected' })).toBe(0);

    metrics.configReload('applied');
    metrics.configReload('rejected');
    metrics.configReload('applied');
    text = await metrics.metricsText();
    expect(sampleValue(text, 'meshlet_config_reloads_total', { result: 'applied' })).toBe(2);
    expect(sampleValue(text, 'meshlet_config_reloads_total', { result: 'rejected' })).toBe(1);
  });

  it('counts malformed requests per listener and drops a removed listener', async () => {
    const metrics = new MeshletMetrics();
    metrics.malformedRequest('127.0.0.1:9001', 'header_overflow');
    metrics.malformedRequest('127.0.0.1:9001', 'header_overflow');
    metrics.malformedRequest('127.0.0.1:9001', 'bad_chunking');
    metrics.malformedRequest('127.0.0.1:15001', 'unknown_host');

    let text = await metrics.metricsText();
    expect(sampleValue(text, 'meshlet_malformed_requests_total', { listener: '127.0.0.1:9001', reason: 'header_overflow' })).toBe(2);
    expect(sampleValue(text, 'meshlet_malformed_requests_total', { listener: '127.0.0.1:15001', reason: 'unknown_host' })).toBe(1);

    metrics.removeListener('127.0.0.1:9001');
    text = await metrics.metricsText();
    expect(samplesOf(text, 'meshlet_malformed_requests_total', { listener: '127.0.0.1:9001' })).toEqual([]);
    expect(samplesOf(text, 'meshlet_malformed_requests_total', { listener: '127.0.0.1:15001' })).toHaveLength(1);
  });

  it('exposes process metrics under their standard process_* and nodejs_* names in Prometheus text format', async () => {
    const metrics = new MeshletMetrics();
    const text = await metrics.metricsText();
    expect(samplesOf(text, 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(samplesOf(text, 'process_resident_memory_bytes')).toHaveLength(1);
    expect(samplesOf(text, 'nodejs_eventloop_lag_seconds')).toHaveLength(1);
    expect(text).not.toMatch(/^meshlet_(process|nodejs)_/m);
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});
