// An upstream's endpoint states outlive every snapshot: a health flip, an endpoint joining or
// leaving, and a policy change keep, for each address that stays, its forwarder (warm
// connections), its in-flight count, its latency estimate and the round-robin position.
import { describe, expect, it } from 'vitest';
import { BalancerConfigError } from '../../../src/balancer/errors.ts';
import { CONNECTIONS_DEFAULTS, DEFAULT_POLICY, LB_DEFAULTS } from '../../../src/config/defaults.ts';
import { outcomeOf } from '../../../src/proxy/call/outcome.ts';
import type { EndpointState } from '../../../src/proxy/upstream/endpoint-state.ts';
import { prepareUpstream, type Upstream } from '../../../src/proxy/upstream/upstream.ts';
import { catalogConfig, GET } from '../../helpers/in-memory-forwarder.ts';
import { endpointOf, upstreamHarness } from './fixtures.ts';

const A = '10.0.0.1:80';
const B = '10.0.0.2:80';
const C = '10.0.0.3:80';

function picked(upstream: Upstream): EndpointState {
  const result = upstream.pick(GET);
  if (result.kind !== 'picked') throw new Error(`expected a pick, got ${result.kind}`);
  return result.endpoint;
}

/** The state of `address`, found by picking (every picker here reaches each endpoint soon). */
function stateOf(upstream: Upstream, address: string): EndpointState {
  for (let i = 0; i < 100; i++) {
    const s = picked(upstream);
    if (s.address === address) return s;
  }
  throw new Error(`${address} never picked`);
}

function pickerState(upstream: Upstream, address: string): Record<string, unknown> {
  const view = upstream.describe() as { endpoints: Array<{ address: string; picker: Record<string, unknown> | null }> };
  return view.endpoints.find((e) => e.address === address)?.picker ?? {};
}

const ok = (latencyMs: number | undefined) => outcomeOf(200, undefined, undefined, latencyMs);

describe('picks', () => {
  it('return one preallocated result per endpoint state', () => {
    const upstream = upstreamHarness().build(catalogConfig([A]));
    const first = upstream.pick(GET);
    expect(upstream.pick(GET)).toBe(first);
  });
});

describe('a health change', () => {
  it('keeps the endpoint state, its forwarder, its in-flight count and the round-robin position', () => {
    const h = upstreamHarness(4);
    const upstream = h.build(catalogConfig([A, B, C]));
    let last = picked(upstream);
    while (last.address !== B) last = picked(upstream);
    const b = last;
    const forwarder = b.forwarder;
    upstream.attemptStarted(b);
    upstream.attemptStarted(b);

    upstream.setHealth(C, 'unhealthy');
    // After b comes c, which may not take calls now: the rotation goes on at a.
    expect([picked(upstream).address, picked(upstream).address]).toEqual([A, B]);
    const after = (upstream.describe() as { endpoints: Array<{ address: string; health: string }> }).endpoints;
    expect(after.map((e) => e.health)).toEqual(['unknown', 'unknown', 'unhealthy']);
    expect(pickerState(upstream, B).inFlight).toBe(2);

    upstream.setHealth(C, 'healthy');
    const again = stateOf(upstream, B);
    expect(again).toBe(b);
    expect(again.forwarder).toBe(forwarder);
    expect(h.pool.made).toHaveLength(3);
    upstream.observe(b, ok(5));
    expect(pickerState(upstream, B).inFlight).toBe(1);
  });
});

describe('endpoints joining and leaving', () => {
  it('keep the state of those that stay and close the forwarder of one that leaves', () => {
    const h = upstreamHarness();
    const upstream = h.build(catalogConfig([A, B]));
    const a = stateOf(upstream, A);
    upstream.attemptStarted(a);
    upstream.setEndpoints([endpointOf(A), endpointOf(C)]);
    const seen = new Set(Array.from({ length: 10 }, () => picked(upstream)));
    expect([...seen].map((e) => e.address).sort()).toEqual([A, C]);
    expect(seen.has(a)).toBe(true);
    expect(pickerState(upstream, A).inFlight).toBe(1);
    const [forA, forB, forC] = h.pool.made;
    expect([forA!.closed, forB!.closed, forC!.closed]).toEqual([false, true, false]);
  });

  it('refuses endpoints no picker can serve and keeps the snapshot before them', () => {
    const upstream = upstreamHarness().build(catalogConfig([A, B], { lb: { ...LB_DEFAULTS, algorithm: 'maglev', tableSize: 2 } }));
    expect(() => upstream.setEndpoints([endpointOf(A), endpointOf(B), endpointOf(C)])).toThrow(BalancerConfigError);
    const seen = new Set(Array.from({ length: 20 }, () => picked(upstream).address));
    expect([...seen].sort()).toEqual([A, B]);
  });
});

describe('a policy change', () => {
  it('keeps EWMA, in-flight counts, rotation and forwarders; a new connect timeout reaches the forwarder as a setting', () => {
    const h = upstreamHarness();
    const peak = (decay: number) => ({ lb: { ...LB_DEFAULTS, algorithm: 'peak_ewma' as const, decay } });
    const upstream = h.build(catalogConfig([A, B], peak(10_000)));
    const a = stateOf(upstream, A);
    const b = stateOf(upstream, B);
    upstream.attemptStarted(a);
    upstream.observe(a, ok(40));
    upstream.attemptStarted(b);

    upstream.commit(prepareUpstream(catalogConfig([A, B], { ...peak(20_000), connectTimeout: 250 }), h.deps, upstream));
    expect(pickerState(upstream, A)).toMatchObject({ ewmaMs: 40, inFlight: 0 });
    expect(pickerState(upstream, B)).toMatchObject({ inFlight: 1 });
    expect(h.pool.made).toHaveLength(2);
    expect(h.pool.made.map((f) => f.closed)).toEqual([false, false]);
    expect(h.pool.made.map((f) => f.settings.at(-1))).toEqual([{ connectTimeoutMs: 250 }, { connectTimeoutMs: 250 }]);
    // An attempt that gives no latency sample (a cancel) releases its count and leaves the estimate.
    upstream.observe(b, outcomeOf(0, undefined, 'cancelled', 12));
    expect(pickerState(upstream, B)).toMatchObject({ inFlight: 0, ewmaMs: undefined });
  });

  it('moves an endpoint to a new forwarder only when what its connections depend on changes', () => {
    const h = upstreamHarness();
    const upstream = h.build(catalogConfig([A]));
    const before = picked(upstream).forwarder;
    upstream.commit(prepareUpstream(catalogConfig([A], { connections: { ...CONNECTIONS_DEFAULTS, maxPerEndpoint: 4 } }), h.deps, upstream));
    expect(picked(upstream).forwarder).not.toBe(before);
    expect(h.pool.made.map((f) => f.closed)).toEqual([true, false]);
  });

  it('is prepared without touching the running upstream, and a prepare that cannot be built throws', () => {
    const h = upstreamHarness();
    const upstream = h.build(catalogConfig([A, B, C]));
    const prepared = prepareUpstream(catalogConfig([A, B, C], { timeout: 1234 }), h.deps, upstream);
    expect(upstream.timeoutMs).toBe(DEFAULT_POLICY.timeout);
    expect(() => prepareUpstream(catalogConfig([A, B, C], { lb: { ...LB_DEFAULTS, algorithm: 'maglev', tableSize: 2 } }), h.deps, upstream)).toThrow(BalancerConfigError);
    upstream.commit(prepared);
    expect(upstream.timeoutMs).toBe(1234);
    expect(h.pool.made).toHaveLength(3);
  });
});
