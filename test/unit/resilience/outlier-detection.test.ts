// Outlier detection on a fake clock: what a user of an upstream notices is which endpoints
// take calls, for how long an ejected one is out, and what the decision log says about it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LB_ALGORITHMS } from '../../../src/balancer/registry.ts';
import { LB_DEFAULTS } from '../../../src/config/defaults.ts';
import { DEFAULT_POLICY, SUCCESS_RATE_DEFAULTS } from '../../../src/config/defaults.ts';
import type { OutlierDetectionConfig, UpstreamConfig } from '../../../src/config/types.ts';
import type { Decision } from '../../../src/observability/decisions.ts';
import { outcomeOf } from '../../../src/proxy/call/outcome.ts';
import { prepareUpstream, type Upstream } from '../../../src/proxy/upstream/upstream.ts';
import { catalogConfig, GET } from '../../helpers/in-memory-forwarder.ts';
import { upstreamHarness, type UpstreamHarness } from '../upstream/fixtures.ts';

const A = '10.0.0.1:80';
const B = '10.0.0.2:80';
const C = '10.0.0.3:80';
const D = '10.0.0.4:80';

const OK = outcomeOf(200, undefined, undefined, 5);
const FAIL = outcomeOf(500, undefined, undefined, 5);
const CANCELLED = outcomeOf(0, undefined, 'cancelled', 5);

function detection(fields: Partial<OutlierDetectionConfig> = {}): OutlierDetectionConfig {
  return {
    consecutiveFailures: 5,
    interval: 10_000,
    baseEjectionTime: 30_000,
    maxEjectionTime: 300_000,
    maxEjectionPercent: 10,
    successRate: SUCCESS_RATE_DEFAULTS,
    ...fields,
  };
}

interface Rig {
  readonly h: UpstreamHarness;
  readonly upstream: Upstream;
  /** Sends one attempt's outcome for `address`. */
  observe(address: string, outcome: typeof OK, times?: number): void;
  /** Addresses picks reach, out of 60. */
  picked(): Set<string>;
  decisions(kind?: Decision['kind']): Decision[];
}

function rig(addresses: readonly string[], fields: Partial<OutlierDetectionConfig> = {}, policy: Partial<UpstreamConfig['policy']> = {}): Rig {
  const h = upstreamHarness(3);
  const upstream = h.build(catalogConfig(addresses, { outlierDetection: detection(fields), panicThreshold: 0, ...policy }));
  return {
    h,
    upstream,
    observe(address, outcome, times = 1) {
      const state = upstream.endpointState(address)!;
      for (let i = 0; i < times; i++) {
        upstream.attemptStarted(state);
        upstream.observe(state, outcome);
      }
    },
    picked() {
      const seen = new Set<string>();
      for (let i = 0; i < 60; i++) {
        const result = upstream.pick(GET);
        seen.add(result.kind === 'picked' ? result.endpoint.address : result.kind);
      }
      return seen;
    },
    decisions: (kind) => h.deps.decisions.recent().filter((d) => kind === undefined || d.kind === kind),
  };
}

/** One interval of calls: `calls` per endpoint, `failEvery` of each endpoint's calls failing (0: none). */
function interval(r: Rig, calls: number, failEvery: Readonly<Record<string, number>>, ms = 10_000): void {
  for (let i = 1; i <= calls; i++) {
    for (const address of [A, B, C, D]) {
      if (r.upstream.endpointState(address) === undefined) continue;
      const every = failEvery[address] ?? 0;
      r.observe(address, every > 0 && i % every === 0 ? FAIL : OK);
    }
  }
  r.h.clock.advance(ms);
}

describe('consecutive failures', () => {
  it('eject the endpoint at once, before any sweep, and say why', () => {
    const r = rig([A, B, C]);
    r.observe(A, FAIL, 4);
    expect(r.picked()).toContain(A);
    r.observe(A, FAIL);
    expect(r.picked()).toEqual(new Set([B, C]));
    r.h.clock.advance(1000);
    const view = r.upstream.describe() as { endpoints: { address: string; excluded: string[]; outlier: unknown }[] };
    expect(view.endpoints[0]).toMatchObject({ address: A, excluded: ['ejected'], outlier: { ejections: 1, ejectionLeftMs: 29_000 } });
    expect(view.endpoints[1]).toMatchObject({ address: B, excluded: [], outlier: { ejections: 0, ejectionLeftMs: null } });
    expect(r.decisions('ejected').map((d) => [d.endpoint, d.reason])).toEqual([
      [A, 'ejected for 30 s (1st time): 5 failures in a row (consecutiveFailures 5), the last HTTP 500'],
    ]);
  });

  it('start over after a success, and do not count calls that say nothing of the endpoint', () => {
    const r = rig([A, B, C]);
    r.observe(A, FAIL, 4);
    r.observe(A, OK);
    r.observe(A, FAIL, 4);
    r.observe(A, CANCELLED, 3);
    expect(r.picked()).toContain(A);
    r.observe(A, outcomeOf(0, undefined, 'connect_failed', 1));
    expect(r.picked()).not.toContain(A);
    expect(r.decisions('ejected')[0]?.reason).toBe('ejected for 30 s (1st time): 5 failures in a row (consecutiveFailures 5), the last MESHLET_CONNECT_FAILED');
  });
});

describe('success rate', () => {
  it('ejects the one of three endpoints that fails every second call, which Envoy’s rule over all three never would', () => {
    const r = rig([A, B, C]);
    interval(r, 120, { [B]: 2 });
    expect(r.picked()).toEqual(new Set([A, C]));
    const [decision] = r.decisions('ejected');
    expect(decision?.endpoint).toBe(B);
    expect(decision?.reason).toBe('ejected for 30 s (1st time): success rate 50.0 % of 120 calls in 10 s, below 90.0 % (peers 100 %)');
    expect(decision?.data).toMatchObject({ reason: 'success_rate', rate: 50, calls: 120, threshold: 90, peerMean: 100 });
  });

  it('leaves alone an endpoint with 1 % of errors among healthy peers, interval after interval', () => {
    const r = rig([A, B, C, D], { maxEjectionPercent: 100 });
    for (let i = 0; i < 30; i++) interval(r, 200, { [C]: 100 });
    expect(r.decisions('ejected')).toEqual([]);
    expect(r.picked()).toEqual(new Set([A, B, C, D]));
  });

  it('leaves alone a group whose rates spread widely, and judges nothing below the request volume or minimum hosts', () => {
    // C at 66.7 % has peers at 100 % and 75 %: their stdev (12.5) × 1.9 puts its line at 63.75 %.
    const spread = rig([A, B, C]);
    interval(spread, 120, { [B]: 4, [C]: 3 });
    expect(spread.decisions('ejected')).toEqual([]);
    const quiet = rig([A, B, C]);
    interval(quiet, 99, { [B]: 2 });
    expect(quiet.decisions('ejected')).toEqual([]);
    const two = rig([A, B]);
    interval(two, 120, { [B]: 2 });
    expect(two.decisions('ejected')).toEqual([]);
  });
});

describe('ejection time', () => {
  it('ends at the sweep after baseEjectionTime, grows with each repeat up to maxEjectionTime, and shrinks back once the endpoint behaves', () => {
    const r = rig([A, B, C], { maxEjectionTime: 50_000 });
    r.observe(A, FAIL, 5);
    r.h.clock.advance(29_999);
    expect(r.picked()).not.toContain(A);
    r.h.clock.advance(1);
    expect(r.picked()).toContain(A);
    expect(r.decisions('unejected').map((d) => d.reason)).toEqual(['unejected: its 30 s ejection is over (ejected 1 time; a next one would last 50 s)']);

    // Failing again a sweep after it came back: 30 s × 2, capped at 50 s.
    r.h.clock.advance(10_000);
    r.observe(A, FAIL, 5);
    r.h.clock.advance(40_000);
    expect(r.picked()).not.toContain(A);
    r.h.clock.advance(10_000);
    expect(r.picked()).toContain(A);
    r.observe(A, FAIL, 5);
    expect(r.decisions('ejected').map((d) => d.data?.ejectionMs)).toEqual([30_000, 50_000, 50_000]);
    r.h.clock.advance(50_000);
    expect(r.picked()).toContain(A);
    // Behaving for 30 s, then one repeat off per interval: three intervals later the next is 30 s again.
    r.h.clock.advance(40_000);
    r.observe(A, FAIL, 5);
    expect(r.decisions('ejected').at(-1)?.reason).toMatch(/^ejected for 50 s \(4th time\)/);
    r.h.clock.advance(50_000 + 50_000);
    r.observe(A, FAIL, 5);
    expect(r.decisions('ejected').at(-1)?.reason).toMatch(/^ejected for 30 s \(5th time\)/);
  });
});

describe('maxEjectionPercent', () => {
  it('stops ejecting once the share is reached, but always allows one', () => {
    const half = rig([A, B, C, D], { maxEjectionPercent: 50 });
    for (const address of [A, B, C]) half.observe(address, FAIL, 5);
    expect(half.picked()).toEqual(new Set([C, D]));
    const tiny = rig([A, B, C], { maxEjectionPercent: 1 });
    tiny.observe(A, FAIL, 5);
    tiny.observe(B, FAIL, 5);
    expect(tiny.picked()).toEqual(new Set([B, C]));
  });
});

describe('panic', () => {
  it('spreads calls over the ejected endpoint when too few are left, and records entering and leaving it', () => {
    const r = rig([A, B, C], {}, { panicThreshold: 70 });
    r.observe(A, FAIL, 5);
    expect(r.picked()).toEqual(new Set([A, B, C]));
    r.h.clock.advance(30_000);
    expect(r.decisions('panic').map((d) => d.reason)).toEqual([
      'entered panic: 2 of 3 primaries eligible (67 % < 70 %), calls spread over 3 endpoints whose breaker is not open',
      'left panic: 3 of 3 primaries eligible (100 %, threshold 70 %)',
    ]);
  });
});

describe('backups', () => {
  it('take calls only when every primary is ejected', () => {
    const h = upstreamHarness();
    const config = catalogConfig([A, B, C], { outlierDetection: detection({ maxEjectionPercent: 100 }) });
    const upstream = h.build({ ...config, endpoints: config.endpoints.map((e) => (e.address === C ? { ...e, backup: true } : e)) });
    const fail = (address: string) => {
      const state = upstream.endpointState(address)!;
      for (let i = 0; i < 5; i++) upstream.observe(state, FAIL);
    };
    const picks = () => new Set(Array.from({ length: 30 }, () => upstream.pick(GET)).map((p) => (p.kind === 'picked' ? p.endpoint.address : p.kind)));
    expect(picks()).toEqual(new Set([A, B]));
    fail(A);
    expect(picks()).toEqual(new Set([B]));
    fail(B);
    expect(picks()).toEqual(new Set([C]));
  });
});

describe('detector state', () => {
  it('lasts across a reload for endpoints that stay, starts fresh for one that comes back, and ends with detection turned off', () => {
    const r = rig([A, B, C]);
    r.observe(A, FAIL, 5);
    r.observe(B, FAIL, 3);
    const reload = (config: UpstreamConfig) => r.upstream.commit(prepareUpstream(config, r.h.deps, r.upstream));
    reload(catalogConfig([A, B, C, D], { outlierDetection: detection({ consecutiveFailures: 4 }), panicThreshold: 0, timeout: 5000 }));
    expect(r.picked()).toEqual(new Set([B, C, D]));
    // B's run of three failures carried over: one more makes four.
    r.observe(B, FAIL);
    expect(r.picked()).toEqual(new Set([B, C, D]));
    expect(r.decisions('ejected')).toHaveLength(1);

    reload(catalogConfig([B, C, D], { outlierDetection: detection(), panicThreshold: 0 }));
    reload(catalogConfig([A, B, C, D], { outlierDetection: detection(), panicThreshold: 0 }));
    expect(r.picked()).toContain(A);
    expect(r.upstream.endpointState(A)!.outlier.ejections).toBe(0);

    r.observe(C, FAIL, 5);
    const timers = r.h.clock.pendingTimers();
    reload(catalogConfig([A, B, C, D], { panicThreshold: 0 }));
    expect(r.picked()).toEqual(new Set([A, B, C, D]));
    expect(r.decisions('unejected').at(-1)).toMatchObject({ endpoint: C, reason: 'unejected: outlier detection was turned off' });
    expect(r.h.clock.pendingTimers()).toBe(timers - 1);
  });

  it('keeps one sweep per upstream, restarted when the interval changes and cleared on close', () => {
    const r = rig([A, B, C]);
    const before = r.h.clock.pendingTimers();
    r.upstream.commit(prepareUpstream(catalogConfig([A, B, C], { outlierDetection: detection({ interval: 1000 }) }), r.h.deps, r.upstream));
    expect(r.h.clock.pendingTimers()).toBe(before);
    r.observe(A, FAIL, 5);
    r.h.clock.advance(30_000);
    expect(r.picked()).toContain(A);
    r.upstream.close();
    expect(r.h.clock.pendingTimers()).toBe(before - 1);
  });
});

describe('metrics', () => {
  it('count ejections by reason and show the endpoints ejected now', async () => {
    const r = rig([A, B, C, D], { maxEjectionPercent: 50 });
    r.observe(A, FAIL, 5);
    interval(r, 120, { [B]: 2 }, 0);
    r.h.clock.advance(10_000);
    const text = await r.h.deps.metrics.metricsText();
    expect(text).toContain('meshlet_outlier_ejections_total{upstream="catalog",reason="consecutive"} 1');
    expect(text).toContain('meshlet_outlier_ejections_total{upstream="catalog",reason="success_rate"} 1');
    expect(text).toContain('meshlet_outlier_ejected_endpoints{upstream="catalog"} 2');
  });
});

describe('whatever the outcomes and the time', () => {
  it('no pick returns an ejected endpoint while panic is off, and no more than maxEjectionPercent are ejected (but one may be)', () => {
    const ADDRESSES = [A, B, C, D];
    const step = fc.record({ index: fc.nat(ADDRESSES.length - 1), failures: fc.nat(7), successes: fc.nat(3), advanceMs: fc.constantFrom(0, 1000, 10_000, 30_000) });
    fc.assert(
      fc.property(fc.constantFrom(...LB_ALGORITHMS), fc.array(step, { minLength: 1, maxLength: 25 }), fc.constantFrom(0, 10, 25, 50, 75, 100), fc.nat(), (algorithm, steps, maxEjectionPercent, seed) => {
        const h = upstreamHarness(seed);
        const upstream = h.build(catalogConfig(ADDRESSES, { lb: { ...LB_DEFAULTS, algorithm }, panicThreshold: 0, outlierDetection: detection({ maxEjectionPercent, successRate: { ...SUCCESS_RATE_DEFAULTS, requestVolume: 3 } }) }));
        const allowed = Math.max(1, Math.floor((maxEjectionPercent * ADDRESSES.length) / 100));
        for (const { index, failures, successes, advanceMs } of steps) {
          const state = upstream.endpointState(ADDRESSES[index]!)!;
          for (let i = 0; i < successes; i++) upstream.observe(state, OK);
          for (let i = 0; i < failures; i++) upstream.observe(state, FAIL);
          h.clock.advance(advanceMs);
          const ejected = ADDRESSES.filter((a) => upstream.endpointState(a)!.exclusions.has('ejected'));
          expect(ejected.length).toBeLessThanOrEqual(allowed);
          for (let i = 0; i < 8; i++) {
            const result = upstream.pick(GET);
            if (ejected.length === ADDRESSES.length) expect(result.kind).toBe('fail');
            else expect(result.kind === 'picked' && !ejected.includes(result.endpoint.address)).toBe(true);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('an upstream without outlier detection', () => {
  it('never ejects', () => {
    const h = upstreamHarness();
    const upstream = h.build(catalogConfig([A, B, C], { ...DEFAULT_POLICY }));
    for (let i = 0; i < 50; i++) upstream.observe(upstream.endpointState(A)!, FAIL);
    h.clock.advance(60_000);
    expect(h.deps.decisions.recent()).toEqual([]);
  });
});
