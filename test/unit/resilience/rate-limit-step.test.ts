// policy.rateLimit on the in-memory forwarder and a fake clock: the burst passes, the rest get
// 429 MESHLET_RATE_LIMITED (gRPC RESOURCE_EXHAUSTED) with retry-after at once, without an
// attempt and without the fallback, and tokens come back with time.
import { describe, expect, it } from 'vitest';
import { fallback } from '../../../src/resilience/fallback-step.ts';
import { rateLimit } from '../../../src/resilience/rate-limit-step.ts';
import { prepareUpstream } from '../../../src/proxy/upstream/upstream.ts';
import { callRig, GET, type CallRig } from '../../helpers/in-memory-forwarder.ts';
import { sampleValue } from '../observability/prometheus-text.ts';

const limited = (requestsPerSecond: number, burst: number) =>
  callRig({ steps: [rateLimit, fallback], policy: { rateLimit: { requestsPerSecond, burst }, fallback: { status: 503, headers: {}, body: 'degraded' } } });

describe('the upstream rate limit', () => {
  it('admits the burst, then answers 429 with retry-after at once, sending nothing', async () => {
    const r = limited(2, 3);
    const admitted = [r.call(), r.call(), r.call()];
    const { sink } = r.call();
    expect(r.attempts()).toHaveLength(3);
    expect(admitted.map(({ sink: s }) => s.failures)).toEqual([[], [], []]);
    // Not the fallback: the 429 is the answer that tells the client to slow down.
    expect(sink.failures).toEqual(['429 MESHLET_RATE_LIMITED']);
    expect(sink.errors[0]).toMatchObject({ retryAfterSeconds: 1, grpcStatus: 8 });
    expect(sink.errors[0]!.message).toBe('over 2 calls/s (burst 3), the most policy.rateLimit admits');
    const access = r.lines.filter((line) => line['log'] === 'access');
    expect(access.at(-1)).toMatchObject({ status: 429, error: 'MESHLET_RATE_LIMITED', attempts: 0 });
    const text = await r.metrics.metricsText();
    expect(sampleValue(text, 'meshlet_rate_limited_total', { upstream: 'catalog' })).toBe(1);
  });

  it('says how long to wait in whole seconds, rounded up', () => {
    const r = limited(0.25, 1);
    r.call();
    r.clock.advance(1500);
    const { sink } = r.call();
    // The next token is due 4 s after the first call: 2.5 s from now.
    expect(sink.errors[0]?.retryAfterSeconds).toBe(3);
  });

  it('admits again as tokens come back with time', () => {
    const r = limited(10, 1);
    r.call();
    expect(r.call().sink.failures).toEqual(['429 MESHLET_RATE_LIMITED']);
    r.clock.advance(100);
    expect(r.call().sink.failures).toEqual([]);
    expect(r.attempts()).toHaveLength(2);
  });

  it('records rate-limited calls as one decision a second, with the numbers', () => {
    const r = limited(1, 1);
    r.call();
    for (let i = 0; i < 4; i++) r.call();
    const decisions = r.decisions.recent().filter((d) => d.kind === 'rate_limited');
    expect(decisions).toEqual([
      expect.objectContaining({ scope: 'catalog', count: 1, data: { requestsPerSecond: 1, burst: 1 }, reason: 'rate limited: over 1 calls/s (burst 1), the most policy.rateLimit admits; next call admitted in 1000 ms' }),
    ]);
  });

  it('answers a gRPC call with RESOURCE_EXHAUSTED', () => {
    const r = callRig({ steps: [rateLimit], policy: { rateLimit: { requestsPerSecond: 1, burst: 1 } } });
    r.call({ ...GET, grpc: true, method: 'POST' });
    const { sink } = r.call({ ...GET, grpc: true, method: 'POST' });
    expect(sink.errors[0]).toMatchObject({ code: 'MESHLET_RATE_LIMITED', grpcStatus: 8 });
    expect(r.lines.filter((line) => line['log'] === 'access').at(-1)).toMatchObject({ grpc_status: 8 });
  });

  it('keeps its tokens over a reload that leaves the section as it was, and starts afresh when it changes', () => {
    const r = limited(0.1, 1);
    r.call();
    const reload = (rig: CallRig, requestsPerSecond: number) => {
      const config = { ...rig.upstream.config, policy: { ...rig.upstream.config.policy, timeout: 5000, rateLimit: { requestsPerSecond, burst: 1 } } };
      rig.upstream.commit(prepareUpstream(config, { clock: rig.clock, random: () => 0 }, rig.upstream));
    };
    reload(r, 0.1);
    // A reload grants no fresh burst.
    expect(r.call().sink.failures).toEqual(['429 MESHLET_RATE_LIMITED']);
    reload(r, 0.2);
    expect(r.call().sink.failures).toEqual([]);
  });

  it('limits nothing without a rateLimit section', () => {
    const r = callRig({ steps: [rateLimit] });
    for (let i = 0; i < 100; i++) r.call();
    expect(r.attempts()).toHaveLength(100);
  });
});
