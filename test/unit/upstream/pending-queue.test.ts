// Calls to an upstream that has no endpoint yet (discovery has not found one) wait in a queue
// bounded by policy.limits.maxPending and by each call's deadline, and run as soon as the next
// snapshot is published, in the order they came.
import { describe, expect, it } from 'vitest';
import { LIMITS_DEFAULTS } from '../../../src/config/defaults.ts';
import type { PendingPick } from '../../../src/proxy/upstream/pick-result.ts';
import { callRig, catalogConfig, GET } from '../../helpers/in-memory-forwarder.ts';
import { endpointOf, upstreamHarness } from './fixtures.ts';

const limits = (maxPending: number) => ({ limits: { ...LIMITS_DEFAULTS, maxPending } });

function waiter(name: string, log: string[], onRetry?: () => void): PendingPick {
  return {
    retryPick: () => {
      log.push(name);
      onRetry?.();
    },
  };
}

describe('the pending queue of an upstream without endpoints', () => {
  it('answers a pick with queue, and holds at most limits.maxPending waiters', () => {
    const upstream = upstreamHarness().build(catalogConfig([], limits(2)));
    expect(upstream.pick(GET).kind).toBe('queue');
    const log: string[] = [];
    expect(upstream.wait(waiter('a', log))).toBe(true);
    expect(upstream.wait(waiter('b', log))).toBe(true);
    expect(upstream.wait(waiter('c', log))).toBe(false);
  });

  it('retries every waiter in arrival order when endpoints are published, skipping one that stopped waiting', () => {
    const upstream = upstreamHarness().build(catalogConfig([], limits(10)));
    const log: string[] = [];
    const waiters = ['a', 'b', 'c', 'd'].map((name) => waiter(name, log));
    for (const w of waiters) upstream.wait(w);
    upstream.stopWaiting(waiters[1]!);
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(log).toEqual(['a', 'c', 'd']);
    expect(upstream.pick(GET)).toMatchObject({ kind: 'picked', endpoint: { address: '10.0.0.1:80' } });
  });

  it('does not call a waiter that an earlier one stopped during the same retry round', () => {
    const upstream = upstreamHarness().build(catalogConfig([], limits(10)));
    const log: string[] = [];
    const later = waiter('later', log);
    upstream.wait(waiter('first', log, () => upstream.stopWaiting(later)));
    upstream.wait(later);
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(log).toEqual(['first']);
  });

  it('makes room again as waiters are retried: a waiter that must wait again joins the next round', () => {
    const upstream = upstreamHarness().build(catalogConfig([], limits(1)));
    const log: string[] = [];
    const patient: PendingPick = { retryPick: () => void (log.push('patient'), upstream.wait(patient)) };
    upstream.wait(patient);
    // Still no endpoint: the waiter is retried once and waits again, without looping.
    upstream.setEndpoints([]);
    expect(log).toEqual(['patient']);
    expect(upstream.wait(waiter('other', log))).toBe(false);
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(log).toEqual(['patient', 'patient']);
  });
});

/** One call, run against an upstream without endpoints whose timeout is 5 s. */
function waitingCall() {
  const rig = callRig({ addresses: [], timeoutMs: 5000, policy: limits(10) });
  return { rig, upstream: rig.upstream, sink: rig.call().sink };
}

describe('a call waiting for an upstream first endpoint', () => {
  it('is forwarded as soon as an endpoint is published', () => {
    const { rig, upstream, sink } = waitingCall();
    rig.clock.advance(1000);
    expect(rig.pool.made).toHaveLength(0);
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(rig.pool.made).toHaveLength(1);
    expect(rig.pool.made[0]!.attempts).toHaveLength(1);
    expect(sink.failures).toEqual([]);
  });

  it('fails with 504 at its deadline, and is not sent anywhere once an endpoint comes later', () => {
    const { rig, upstream, sink } = waitingCall();
    rig.clock.advance(5000);
    expect(sink.failures).toEqual(['504 MESHLET_UPSTREAM_TIMEOUT']);
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(rig.pool.made[0]!.attempts).toHaveLength(0);
  });

  it('leaves the queue when its client goes away: only the call still waiting is sent', () => {
    const { rig, upstream } = waitingCall();
    const gone = rig.call().call;
    gone.onClientClose();
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(rig.pool.made[0]!.attempts).toHaveLength(1);
  });

  it('is answered 503 MESHLET_UPSTREAM_OVERFLOW at once when limits.maxPending calls wait already', () => {
    const rig = callRig({ addresses: [], timeoutMs: 5000, policy: limits(1) });
    const sinks = [rig.call().sink, rig.call().sink];
    expect(sinks.map((s) => s.failures)).toEqual([[], ['503 MESHLET_UPSTREAM_OVERFLOW']]);
  });

  it('fails at once with 503 MESHLET_NO_HEALTHY_ENDPOINT when endpoints exist but none may take it', () => {
    const rig = callRig({ addresses: [], timeoutMs: 5000 });
    rig.upstream.setEndpoints([endpointOf('10.0.0.1:80', 'unhealthy')]);
    expect(rig.upstream.pick(GET)).toMatchObject({ kind: 'fail', code: 'MESHLET_NO_HEALTHY_ENDPOINT' });
    expect(rig.call().sink.failures).toEqual(['503 MESHLET_NO_HEALTHY_ENDPOINT']);
  });

  it('answers its waiters at once when the upstream leaves the config, instead of at their deadlines', () => {
    const rig = callRig({ addresses: [], timeoutMs: 5000, policy: limits(10) });
    const { call, sink } = rig.call();
    expect(call.settled).toBe(false);
    rig.upstream.close();
    expect(sink.failures).toEqual(['503 MESHLET_NO_HEALTHY_ENDPOINT']);
    expect(call.settled).toBe(true);
    expect(rig.upstream.pick(GET)).toMatchObject({ kind: 'fail', detail: 'the upstream was removed from the config' });
  });
});
