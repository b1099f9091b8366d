// An upstream's circuit breakers on its long-lived endpoint states: open takes the endpoint out
// of the picks, half-open brings it back for its probes, a reload keeps every breaker whose
// endpoint stays, and one that leaves is shut down. Fake Clock for the window, vitest's fake
// timers for opossum's reset timer.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LB_ALGORITHMS } from '../../../src/balancer/registry.ts';
import { LB_DEFAULTS } from '../../../src/config/defaults.ts';
import type { CircuitBreakerConfig, UpstreamConfig } from '../../../src/config/types.ts';
import { outcomeOf, type Outcome } from '../../../src/proxy/call/outcome.ts';
import { prepareUpstream } from '../../../src/proxy/upstream/upstream.ts';
import { rotationOf } from '../../../src/resilience/breaker-rotation.ts';
import { upstreamBreaker } from '../../../src/resilience/upstream-breaker-step.ts';
import { upstreamLimit } from '../../../src/resilience/upstream-limit-step.ts';
import { callRig, catalogConfig, GET } from '../../helpers/in-memory-forwarder.ts';
import { sampleValue } from '../observability/prometheus-text.ts';
import { observeAttempt, pickedAddresses, upstreamHarness } from './fixtures.ts';

const ADDRESSES = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'];
const BREAKER: CircuitBreakerConfig = { errorThresholdPercentage: 50, volumeThreshold: 2, window: 10_000, resetTimeout: 5000, halfOpenRequests: 1 };
// A reset rather than a refused connect: a refused one also marks the endpoint unreachable (reachability.ts).
const RESET: Outcome = outcomeOf(0, undefined, 'reset_before_headers', 1);
const OK: Outcome = outcomeOf(200, undefined, undefined, 1);

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function config(breaker: Partial<CircuitBreakerConfig> = {}, addresses = ADDRESSES, extra: Partial<UpstreamConfig['policy']> = {}): UpstreamConfig {
  return catalogConfig(addresses, { circuitBreaker: { ...BREAKER, ...breaker }, ...extra });
}


describe("an upstream's circuit breakers", () => {
  it('take an endpoint whose breaker opened out of the picks, record why, and bring it back half-open', async () => {
    const h = upstreamHarness();
    const upstream = h.build(config());
    observeAttempt(upstream, ADDRESSES[0]!, RESET);
    observeAttempt(upstream, ADDRESSES[0]!, RESET);
    expect(upstream.endpointState(ADDRESSES[0]!)!.breaker!.state).toBe('open');
    expect(upstream.endpointState(ADDRESSES[0]!)!.exclusions.list()).toEqual(['breaker_open']);
    expect(pickedAddresses(upstream, 12)).toEqual(new Set(ADDRESSES.slice(1)));
    const decision = h.deps.decisions.recent().find((d) => d.kind === 'breaker_opened' && d.endpoint === ADDRESSES[0]);
    expect(decision?.reason).toBe('opened: 2 of 2 calls failed in the last 10s (100 % ≥ 50 %, at least 2 calls), last MESHLET_UPSTREAM_RESET from 10.0.0.1:80; half-open in 5s');
    const text = await h.deps.metrics.metricsText();
    expect(sampleValue(text, 'meshlet_breaker_state', { upstream: 'catalog', endpoint: ADDRESSES[0]! })).toBe(2);
    expect(sampleValue(text, 'meshlet_breaker_transitions_total', { upstream: 'catalog', endpoint: ADDRESSES[0]!, from: 'closed', to: 'open' })).toBe(1);
    vi.advanceTimersByTime(5000);
    expect(upstream.endpointState(ADDRESSES[0]!)!.breaker!.state).toBe('half_open');
    expect(pickedAddresses(upstream, 30)).toContain(ADDRESSES[0]);
    upstream.close();
  });

  it('fail a pick fast with MESHLET_CIRCUIT_OPEN once every endpoint is open', () => {
    const upstream = upstreamHarness().build(config());
    for (const address of ADDRESSES) for (let i = 0; i < 2; i++) observeAttempt(upstream, address, RESET);
    expect(upstream.pick(GET)).toMatchObject({ kind: 'fail', code: 'MESHLET_CIRCUIT_OPEN', reason: 'circuit_open' });
    upstream.close();
  });

  it('keep their state across a reload for endpoints that stay, apply a changed circuitBreaker to all, and shut down for one that leaves', () => {
    const h = upstreamHarness();
    const upstream = h.build(config());
    const first = upstream.endpointState(ADDRESSES[0]!)!.breaker!;
    observeAttempt(upstream, ADDRESSES[0]!, RESET);
    observeAttempt(upstream, ADDRESSES[0]!, RESET);
    observeAttempt(upstream, ADDRESSES[1]!, RESET);
    // One rotation for the upstream's 4 breakers (3 endpoints + its own).
    expect(rotationOf(h.clock).listeners).toBe(4);
    expect(h.clock.pendingTimers()).toBe(1);
    upstream.commit(prepareUpstream(config({ resetTimeout: 9000 }, ADDRESSES.slice(0, 2), { timeout: 3000 }), h.deps, upstream));
    expect(upstream.endpointState(ADDRESSES[0]!)!.breaker).toBe(first);
    expect(first.state).toBe('open');
    expect(upstream.endpointState(ADDRESSES[1]!)!.breaker!.counts()).toEqual({ calls: 1, failures: 1 });
    expect(rotationOf(h.clock).listeners).toBe(3);
    expect(pickedAddresses(upstream, 12)).toEqual(new Set([ADDRESSES[1]]));
    // The second opens under the new policy: half-open after 9 s, not 5.
    observeAttempt(upstream, ADDRESSES[1]!, RESET);
    expect(upstream.endpointState(ADDRESSES[1]!)!.breaker!.state).toBe('open');
    vi.advanceTimersByTime(5000);
    expect(first.state).toBe('half_open');
    expect(upstream.endpointState(ADDRESSES[1]!)!.breaker!.state).toBe('open');
    vi.advanceTimersByTime(4000);
    expect(upstream.endpointState(ADDRESSES[1]!)!.breaker!.state).toBe('half_open');
    upstream.close();
    expect(rotationOf(h.clock).listeners).toBe(0);
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('show in /api/v1/breakers with their window and last transition, and an ejected endpoint shows there without breakers', () => {
    const h = upstreamHarness();
    const upstream = h.build(config());
    observeAttempt(upstream, ADDRESSES[0]!, RESET);
    observeAttempt(upstream, ADDRESSES[0]!, RESET);
    observeAttempt(upstream, ADDRESSES[1]!, OK);
    expect(upstream.describeBreakers()).toMatchObject({
      upstream: 'catalog',
      // The upstream's own breaker saw the same 2 failures in 2 calls first.
      breaker: { state: 'open', calls: 3, failures: 2, errorPercentage: 66.7 },
      endpoints: [
        { address: ADDRESSES[0], state: 'open', calls: 2, failures: 2, errorPercentage: 100, exclusions: ['breaker_open'], lastFailure: 'MESHLET_UPSTREAM_RESET from 10.0.0.1:80', lastTransition: { from: 'closed', to: 'open', reason: expect.stringMatching(/^opened: 2 of 2 calls failed/) } },
        { address: ADDRESSES[1], state: 'closed', calls: 1, failures: 0, lastTransition: null },
        { address: ADDRESSES[2], state: 'closed', calls: 0 },
      ],
    });
    upstream.close();
    const plain = h.build(catalogConfig(ADDRESSES));
    expect(plain.describeBreakers()).toBeUndefined();
    plain.setExcluded(plain.endpointState(ADDRESSES[2]!)!, 'ejected', true);
    expect(plain.describeBreakers()).toEqual({ upstream: 'catalog', breaker: null, endpoints: [{ address: ADDRESSES[2], exclusions: ['ejected'] }] });
  });

  it('lift their exclusions when the policy drops circuitBreaker', () => {
    const h = upstreamHarness();
    const upstream = h.build(config());
    observeAttempt(upstream, ADDRESSES[0]!, RESET);
    observeAttempt(upstream, ADDRESSES[0]!, RESET);
    upstream.commit(prepareUpstream(catalogConfig(ADDRESSES), h.deps, upstream));
    expect(upstream.endpointState(ADDRESSES[0]!)!.breaker).toBeUndefined();
    expect(pickedAddresses(upstream, 30)).toEqual(new Set(ADDRESSES));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never let a pick return an endpoint whose breaker is open while another endpoint is eligible, for every algorithm', () => {
    const step = fc.record({ index: fc.nat(ADDRESSES.length - 1), failed: fc.boolean(), wait: fc.constantFrom(0, 0, 0, 5000) });
    fc.assert(
      fc.property(fc.constantFrom(...LB_ALGORITHMS), fc.array(step, { minLength: 1, maxLength: 30 }), fc.nat(), (algorithm, steps, seed) => {
        const upstream = upstreamHarness(seed).build(config({}, ADDRESSES, { lb: { ...LB_DEFAULTS, algorithm } }));
        for (const { index, failed, wait } of steps) {
          observeAttempt(upstream, ADDRESSES[index]!, failed ? RESET : OK);
          vi.advanceTimersByTime(wait);
          const open = ADDRESSES.filter((a) => upstream.endpointState(a)!.breaker!.state === 'open');
          for (let i = 0; i < 6; i++) {
            const result = upstream.pick(GET);
            if (open.length === ADDRESSES.length) expect(result).toMatchObject({ kind: 'fail', code: 'MESHLET_CIRCUIT_OPEN' });
            else if (result.kind === 'picked') expect(open).not.toContain(result.endpoint.address);
            else expect.unreachable(`a pick failed with ${open.length} of ${ADDRESSES.length} open`);
          }
        }
        upstream.close();
      }),
      { numRuns: 150 },
    );
  });
});

describe('calls through breakers', () => {
  it('repick past a half-open endpoint whose probe is out, or fail fast with 503 MESHLET_CIRCUIT_OPEN', () => {
    const rig = callRig({ addresses: ADDRESSES.slice(0, 1), policy: { circuitBreaker: BREAKER } });
    observeAttempt(rig.upstream, ADDRESSES[0]!, RESET);
    observeAttempt(rig.upstream, ADDRESSES[0]!, RESET);
    vi.advanceTimersByTime(5000);
    const probe = rig.call();
    const second = rig.call();
    expect(rig.attempts()).toHaveLength(1);
    expect(second.sink.failures).toEqual(['503 MESHLET_CIRCUIT_OPEN']);
    rig.attempts()[0]!.head(200, {}, true);
    rig.attempts()[0]!.end();
    expect(probe.sink.status).toBe(200);
    expect(rig.upstream.endpointState(ADDRESSES[0]!)!.breaker!.state).toBe('closed');
    rig.call();
    expect(rig.attempts()).toHaveLength(2);
    rig.upstream.close();
  });

  it("fail fast at the upstream's open breaker without a pick, and let its probes through half-open", () => {
    const rig = callRig({ addresses: ADDRESSES.slice(0, 2), policy: { circuitBreaker: { ...BREAKER, volumeThreshold: 4 } }, steps: [upstreamBreaker] });
    // Two failures each: the endpoints' breakers (and, at 4 calls, the upstream's) open.
    for (const address of ADDRESSES.slice(0, 2)) for (let i = 0; i < 2; i++) observeAttempt(rig.upstream, address, RESET);
    observeAttempt(rig.upstream, ADDRESSES[0]!, RESET);
    observeAttempt(rig.upstream, ADDRESSES[1]!, RESET);
    expect(rig.upstream.breakers.upstream!.state).toBe('open');
    const { sink } = rig.call();
    expect(sink.failures).toEqual(['503 MESHLET_CIRCUIT_OPEN']);
    expect(rig.attempts()).toHaveLength(0);
    vi.advanceTimersByTime(5000);
    expect(rig.upstream.breakers.upstream!.state).toBe('half_open');
    rig.call();
    expect(rig.call().sink.failures).toEqual(['503 MESHLET_CIRCUIT_OPEN']);
    expect(rig.attempts()).toHaveLength(1);
    rig.attempts()[0]!.head(200, {}, true);
    rig.attempts()[0]!.end();
    expect(rig.upstream.breakers.upstream!.state).toBe('closed');
    rig.upstream.close();
  });

  it("gives a half-open upstream's probe back when no endpoint could take it", () => {
    const rig = callRig({ addresses: ADDRESSES.slice(0, 1), policy: { circuitBreaker: { ...BREAKER, resetTimeout: 1000 } }, steps: [upstreamBreaker] });
    const endpoint = rig.upstream.endpointState(ADDRESSES[0]!)!;
    observeAttempt(rig.upstream, ADDRESSES[0]!, RESET);
    observeAttempt(rig.upstream, ADDRESSES[0]!, RESET);
    endpoint.breaker!.force('open');
    vi.advanceTimersByTime(1000);
    expect(rig.upstream.breakers.upstream!.state).toBe('half_open');
    // The endpoint is held open: the probe fails without an attempt and its place is free again.
    expect(rig.call().sink.failures).toEqual(['503 MESHLET_CIRCUIT_OPEN']);
    endpoint.breaker!.force('auto');
    endpoint.breaker!.force('closed');
    rig.call();
    expect(rig.attempts()).toHaveLength(1);
    rig.upstream.close();
  });

  it('refuse past policy.limits.maxConcurrent attempts in flight with 503 MESHLET_UPSTREAM_OVERFLOW naming the limit, and count it', async () => {
    const rig = callRig({ addresses: ADDRESSES.slice(0, 2), policy: { limits: { maxConcurrent: 2, maxPending: 10, maxRetries: 32 } }, steps: [upstreamLimit] });
    rig.call();
    rig.call();
    const third = rig.call();
    expect(third.sink.failures).toEqual(['503 MESHLET_UPSTREAM_OVERFLOW']);
    expect(third.call.lastOutcome).toBeUndefined();
    expect(rig.attempts()).toHaveLength(2);
    rig.attempts()[0]!.head(200, {}, true);
    rig.attempts()[0]!.end();
    rig.call();
    expect(rig.attempts()).toHaveLength(3);
    expect(sampleValue(await rig.metrics.metricsText(), 'meshlet_upstream_overflows_total', { upstream: 'catalog', limit: 'maxConcurrent' })).toBe(1);
    rig.upstream.close();
  });
});
