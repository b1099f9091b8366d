// ProxyCall's last line of defence: an exception that escapes the agent's own handling of a
// call fails that call alone (502, or a reset once the response began), is counted by site,
// and is logged with its stack once per site however often it happens.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { InternalErrors } from '../../../src/observability/internal-errors.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { MeshletMetrics } from '../../../src/observability/metrics.ts';
import type { ProxyError } from '../../../src/proxy/errors.ts';
import { ProxyCall } from '../../../src/proxy/call/proxy-call.ts';
import type { ResponseEnding, ResponseSink } from '../../../src/proxy/call/response-sink.ts';
import type { UpstreamRuntime } from '../../../src/proxy/upstream/upstream.ts';
import { sampleValue } from '../observability/prometheus-text.ts';

class RecordingSink implements ResponseSink {
  headersSent = false;
  bytesSent = 0;
  readonly body = new Writable({ write: (_chunk, _encoding, done) => done() });
  failures: string[] = [];
  resets = 0;

  start(): boolean {
    this.headersSent = true;
    return true;
  }

  finish(_trailers: unknown, ending: ResponseEnding): void {
    ending.responseSent();
  }

  reset(): void {
    this.resets += 1;
  }

  fail(error: ProxyError): void {
    if (this.headersSent) this.reset();
    else this.failures.push(`${error.httpStatus} ${error.code}`);
  }
}

/** An upstream of one endpoint whose forwarder runs `forward` (which throws, in these tests). */
function upstreamWith(metrics: MeshletMetrics, forward: (call: ProxyCall) => void): UpstreamRuntime {
  const endpoint = { address: '127.0.0.1:1', host: '127.0.0.1', port: 1, weight: 1, backup: false, metadata: {}, health: 'unknown' as const };
  return {
    name: 'catalog',
    wireProtocol: 'http1',
    timeoutMs: 0,
    picker: { pick: () => endpoint, onStart: () => undefined, onEnd: () => undefined, describe: () => ({ endpoints: [] }) },
    endpoints: new Map([[endpoint, { endpoint, metrics: metrics.bindEndpoint('catalog', endpoint.address), forwarder: { forward, close: async () => undefined } }]]),
    metrics: metrics.bindUpstream('catalog'),
    hashKeyOf: () => undefined,
  } as unknown as UpstreamRuntime;
}

function environment() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', name: 'guard-test' }, { write: (msg: string) => void lines.push(JSON.parse(msg) as Record<string, unknown>) });
  const metrics = new MeshletMetrics();
  const env = { clock: new FakeClock(), accessLog: undefined, internalErrors: new InternalErrors(metrics, logger) };
  return { lines, metrics, env };
}

const request = { method: 'GET', path: '/', authority: 'catalog', headers: [], body: null, grpc: false, sourceAddress: '127.0.0.1', multiplexed: false };

describe('ProxyCall guard', () => {
  it('fails each call whose handling throws with 502 MESHLET_BAD_UPSTREAM_RESPONSE, counts each, logs the stack once', async () => {
    const { lines, metrics, env } = environment();
    const upstream = upstreamWith(metrics, () => {
      throw new TypeError('a bug the peer found');
    });
    const sinks = [new RecordingSink(), new RecordingSink(), new RecordingSink()];
    for (const sink of sinks) expect(() => new ProxyCall(upstream, request, sink, env).run()).not.toThrow();

    for (const sink of sinks) expect(sink.failures).toEqual(['502 MESHLET_BAD_UPSTREAM_RESPONSE']);
    const text = await metrics.metricsText();
    expect(sampleValue(text, 'meshlet_internal_errors_total', { site: 'proxy_call' })).toBe(3);
    expect(sampleValue(text, 'meshlet_upstream_errors_total', { upstream: 'catalog', code: 'MESHLET_BAD_UPSTREAM_RESPONSE' })).toBe(3);
    const logged = lines.filter((line) => line['site'] === 'proxy_call');
    expect(logged).toHaveLength(1);
    expect(String(logged[0]!['err'])).toContain('TypeError: a bug the peer found');
    // Every failed call settled: none is left counted as in flight.
    expect(sampleValue(await metrics.metricsText(), 'meshlet_requests_in_flight', { upstream: 'catalog' })).toBe(0);
  });

  it('resets the client when the exception comes after the response began', async () => {
    const { metrics, env } = environment();
    const upstream = upstreamWith(metrics, (call) => {
      call.startResponse(200, {}, false, false);
      throw new RangeError('after the head');
    });
    const sink = new RecordingSink();
    new ProxyCall(upstream, request, sink, env).run();

    expect(sink.failures).toEqual([]);
    expect(sink.resets).toBe(1);
    expect(sampleValue(await metrics.metricsText(), 'meshlet_internal_errors_total', { site: 'proxy_call' })).toBe(1);
    // Every failed call settled: none is left counted as in flight.
    expect(sampleValue(await metrics.metricsText(), 'meshlet_requests_in_flight', { upstream: 'catalog' })).toBe(0);
  });

  it('shows every site at 0 before anything failed', async () => {
    const text = await new MeshletMetrics().metricsText();
    for (const site of ['sniff', 'tunnel_connect', 'client_error', 'http1_request', 'http2_stream', 'proxy_call', 'http1_forwarder', 'http2_forwarder']) {
      expect(sampleValue(text, 'meshlet_internal_errors_total', { site })).toBe(0);
    }
  });
});

/** A sink whose client protocol refuses the trailers once the body is out (as node:http2 may). */
class TrailersRefusingSink extends RecordingSink {
  override finish(_trailers: unknown, ending: ResponseEnding): void {
    this.reset();
    ending.trailersRefused();
  }
}

describe('ProxyCall response end', () => {
  it('records a response whose trailers the client protocol refused as failed MESHLET_BAD_UPSTREAM_RESPONSE, not completed', async () => {
    const { metrics, env } = environment();
    const upstream = upstreamWith(metrics, (call) => {
      call.startResponse(200, {}, false, true);
      call.endResponse({ 'x-checksum': 'abc' }, 200, undefined);
    });
    const sink = new TrailersRefusingSink();
    new ProxyCall(upstream, request, sink, env).run();

    expect(sink.resets).toBeGreaterThan(0);
    const text = await metrics.metricsText();
    expect(sampleValue(text, 'meshlet_upstream_errors_total', { upstream: 'catalog', code: 'MESHLET_BAD_UPSTREAM_RESPONSE' })).toBe(1);
  });
});
