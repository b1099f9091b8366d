// An endpoint whose connection was refused (or timed out) leaves the picks at the first such
// attempt, not after consecutiveFailures more callers each paid a retry; connect probes on a
// jittered backoff (fake clock) bring it back once it accepts again, and so does any attempt
// that succeeds there meanwhile. With nothing else eligible it is still tried.
import { describe, expect, it } from 'vitest';
import { outcomeOf, type Outcome } from '../../../src/proxy/call/outcome.ts';
import { FLAP_WINDOW_MS, RECONNECT_BACKOFF } from '../../../src/proxy/upstream/reachability.ts';
import { catalogConfig } from '../../helpers/in-memory-forwarder.ts';
import { observeAttempt, pickedAddresses, upstreamHarness, type UpstreamHarness } from './fixtures.ts';

const ADDRESSES = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'];
const [DEAD, OTHER] = ADDRESSES as [string, string, string];
const REFUSED: Outcome = outcomeOf(0, undefined, 'connect_failed', 0.2);
const CONNECT_TIMEOUT: Outcome = outcomeOf(0, undefined, 'connect_timeout', 1000);
const OK: Outcome = outcomeOf(200, undefined, undefined, 2);
const HTTP_500: Outcome = outcomeOf(500, undefined, undefined, 2);


/** Advances the fake clock, then lets the probes' promises settle. */
async function advance(h: UpstreamHarness, ms: number): Promise<void> {
  h.clock.advance(ms);
  for (let i = 0; i < 3; i++) await Promise.resolve();
}

function kinds(h: UpstreamHarness): string[] {
  return h.deps.decisions.recent().filter((d) => d.kind === 'unreachable' || d.kind === 'reachable').map((d) => `${d.kind} ${d.endpoint}`);
}

describe('an unreachable endpoint', () => {
  it('leaves the picks at its first refused connect, says why, and is probed on a growing, jittered backoff until it accepts again', async () => {
    const h = upstreamHarness(7);
    const upstream = h.build(catalogConfig(ADDRESSES, { connectTimeout: 250 }));
    h.pool.down.add(DEAD);
    observeAttempt(upstream, DEAD, REFUSED);
    expect(upstream.endpointState(DEAD)!.exclusions.list()).toEqual(['unreachable']);
    expect(pickedAddresses(upstream, 30)).toEqual(new Set(ADDRESSES.slice(1)));
    expect(upstream.describe().endpoints.find((e) => e.address === DEAD)!.excluded).toEqual(['unreachable']);
    const decision = h.deps.decisions.recent().find((d) => d.kind === 'unreachable')!;
    expect(decision).toMatchObject({ scope: 'catalog', endpoint: DEAD, data: { reason: 'connect_failed' } });
    expect(decision.reason).toBe('unreachable: its connection was refused; kept out of the balancer until a connect succeeds, tried again in 100 ms and then up to every 1000 ms');

    // Probe times: each gap within ±20 % of 100, 160, 256, 409.6, 655.36, 1000, 1000 ms.
    const probedAt: number[] = [];
    for (let t = 0; t < 5000; t += 5) {
      const before = h.pool.probed.length;
      await advance(h, 5);
      if (h.pool.probed.length > before) probedAt.push(h.clock.now());
    }
    const gaps = probedAt.map((at, i) => at - (i === 0 ? 0 : probedAt[i - 1]!));
    let expected: number = RECONNECT_BACKOFF.initialMs;
    for (const gap of gaps.slice(0, 8)) {
      expect(gap).toBeGreaterThanOrEqual(expected * (1 - RECONNECT_BACKOFF.jitter) - 5);
      expect(gap).toBeLessThanOrEqual(expected * (1 + RECONNECT_BACKOFF.jitter) + 5);
      expected = Math.min(expected * RECONNECT_BACKOFF.multiplier, RECONNECT_BACKOFF.maxMs);
    }
    expect(new Set(h.pool.probed)).toEqual(new Set([DEAD]));
    expect(pickedAddresses(upstream, 30)).not.toContain(DEAD);

    h.pool.down.delete(DEAD);
    await advance(h, RECONNECT_BACKOFF.maxMs * (1 + RECONNECT_BACKOFF.jitter));
    expect(upstream.endpointState(DEAD)!.exclusions.any).toBe(false);
    expect(pickedAddresses(upstream, 30)).toContain(DEAD);
    expect(kinds(h)).toEqual([`unreachable ${DEAD}`, `reachable ${DEAD}`]);
    expect(h.deps.decisions.recent().find((d) => d.kind === 'reachable')!.reason).toMatch(/^reachable again: a connect probe succeeded, after \d+ ms and \d+ failed probes$/);
    const probes = h.pool.probed.length;
    await advance(h, 5000);
    expect(h.pool.probed.length).toBe(probes);
    upstream.close();
  });

  it('is back at once when an attempt there succeeds, and its probing stops', async () => {
    const h = upstreamHarness();
    const upstream = h.build(catalogConfig(ADDRESSES));
    h.pool.down.add(DEAD);
    observeAttempt(upstream, DEAD, CONNECT_TIMEOUT);
    expect(h.deps.decisions.recent().find((d) => d.kind === 'unreachable')!.reason).toMatch(/^unreachable: no connection within \d+ ms;/);
    expect(h.clock.pendingTimers()).toBeGreaterThan(0);
    // A call that was already on a warm connection there answers.
    observeAttempt(upstream, DEAD, OK);
    expect(upstream.endpointState(DEAD)!.exclusions.any).toBe(false);
    expect(h.deps.decisions.recent().at(-1)!.reason).toBe('reachable again: a call to it succeeded, after 0 ms and 0 failed probes');
    await advance(h, 10_000);
    expect(h.pool.probed).toEqual([]);
    upstream.close();
  });

  it('flapping (probes connect, calls do not) goes on from its last backoff step, and starts over once it stayed up', async () => {
    const h = upstreamHarness(3);
    const upstream = h.build(catalogConfig(ADDRESSES));
    const nextProbeIn = async (): Promise<number> => {
      const start = h.clock.now();
      const before = h.pool.probed.length;
      while (h.pool.probed.length === before) await advance(h, 1);
      return h.clock.now() - start;
    };
    const gaps: number[] = [];
    // Every probe's TCP connect succeeds and every call's connection fails right after.
    for (let i = 0; i < 8; i++) {
      observeAttempt(upstream, DEAD, REFUSED);
      gaps.push(await nextProbeIn());
      expect(upstream.endpointState(DEAD)!.exclusions.any).toBe(false);
    }
    let expected: number = RECONNECT_BACKOFF.initialMs;
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(Math.floor(expected * (1 - RECONNECT_BACKOFF.jitter)));
      expect(gap).toBeLessThanOrEqual(Math.ceil(expected * (1 + RECONNECT_BACKOFF.jitter)) + 1);
      expected = Math.min(expected * RECONNECT_BACKOFF.multiplier, RECONNECT_BACKOFF.maxMs);
    }
    // At most one pair of decisions a second once at the cap.
    expect(kinds(h)).toHaveLength(16);
    await advance(h, FLAP_WINDOW_MS);
    observeAttempt(upstream, DEAD, REFUSED);
    expect(h.deps.decisions.recent().at(-1)!.reason).toMatch(/tried again in 100 ms/);
    expect(await nextProbeIn()).toBeLessThanOrEqual(RECONNECT_BACKOFF.initialMs * (1 + RECONNECT_BACKOFF.jitter) + 1);
    upstream.close();
  });

  it('is not marked by answers that are failures of another kind', () => {
    const h = upstreamHarness();
    const upstream = h.build(catalogConfig(ADDRESSES));
    observeAttempt(upstream, DEAD, HTTP_500);
    observeAttempt(upstream, DEAD, outcomeOf(0, undefined, 'reset_before_headers', 1));
    observeAttempt(upstream, DEAD, outcomeOf(0, undefined, 'cancelled', undefined));
    expect(upstream.endpointState(DEAD)!.exclusions.any).toBe(false);
    expect(kinds(h)).toEqual([]);
    upstream.close();
  });

  it('is still tried when no other endpoint can take the call: the only one, or every one unreachable', () => {
    const h = upstreamHarness();
    const sole = h.build(catalogConfig([DEAD]));
    observeAttempt(sole, DEAD, REFUSED);
    expect(pickedAddresses(sole, 5)).toEqual(new Set([DEAD]));
    sole.close();

    const upstream = h.build(catalogConfig(ADDRESSES));
    for (const address of ADDRESSES) observeAttempt(upstream, address, REFUSED);
    expect(pickedAddresses(upstream, 30)).toEqual(new Set(ADDRESSES));
    // One that is back takes every call again.
    observeAttempt(upstream, OTHER, OK);
    expect(pickedAddresses(upstream, 30)).toEqual(new Set([OTHER]));
    upstream.close();
  });

  it('stops being probed when it leaves the endpoints or the upstream closes', async () => {
    const h = upstreamHarness();
    const upstream = h.build(catalogConfig(ADDRESSES));
    h.pool.down.add(DEAD);
    h.pool.down.add(OTHER);
    observeAttempt(upstream, DEAD, REFUSED);
    observeAttempt(upstream, OTHER, REFUSED);
    const timers = h.clock.pendingTimers();
    upstream.setEndpoints(upstream.describe().endpoints.filter((e) => e.address !== DEAD).map((e) => ({ address: e.address, host: e.address.split(':')[0]!, port: 80, weight: 1, backup: false, metadata: {}, health: e.health })));
    expect(h.clock.pendingTimers()).toBe(timers - 1);
    await advance(h, 2000);
    expect(h.pool.probed).not.toContain(DEAD);
    expect(h.pool.probed).toContain(OTHER);
    upstream.close();
    const probes = h.pool.probed.length;
    await advance(h, 5000);
    expect(h.pool.probed.length).toBe(probes);
  });
});
