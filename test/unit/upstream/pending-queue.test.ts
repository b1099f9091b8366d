// Calls to an upstream that has no endpoint yet (discovery has not found one) wait in a queue
// bounded by policy.limits.maxPending and by each call's deadline, and run as soon as the next
// snapshot is published, in the order they came.
import { describe, expect, it } from 'vitest';
import { ProxyCall } from '../../../src/proxy/call/proxy-call.ts';
import type { PendingPick } from '../../../src/proxy/upstream/pick-result.ts';
import { callEnvironment, endpointOf, RecordingSink, request, upstreamConfig, upstreamHarness } from './fixtures.ts';

const limits = (maxPending: number) => ({ limits: { maxConcurrent: 1024, maxPending } });

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
    const upstream = upstreamHarness().build(upstreamConfig([], limits(2)));
    expect(upstream.pick(request).kind).toBe('queue');
    const log: string[] = [];
    expect(upstream.wait(waiter('a', log))).toBe(true);
    expect(upstream.wait(waiter('b', log))).toBe(true);
    expect(upstream.wait(waiter('c', log))).toBe(false);
  });

  it('retries every waiter in arrival order when endpoints are published, skipping one that stopped waiting', () => {
    const upstream = upstreamHarness().build(upstreamConfig([], limits(10)));
    const log: string[] = [];
    const waiters = ['a', 'b', 'c', 'd'].map((name) => waiter(name, log));
    for (const w of waiters) upstream.wait(w);
    upstream.stopWaiting(waiters[1]!);
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(log).toEqual(['a', 'c', 'd']);
    expect(upstream.pick(request)).toMatchObject({ kind: 'picked', endpoint: { address: '10.0.0.1:80' } });
  });

  it('does not call a waiter that an earlier one stopped during the same retry round', () => {
    const upstream = upstreamHarness().build(upstreamConfig([], limits(10)));
    const log: string[] = [];
    const later = waiter('later', log);
    upstream.wait(waiter('first', log, () => upstream.stopWaiting(later)));
    upstream.wait(later);
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(log).toEqual(['first']);
  });

  it('makes room again as waiters are retried: a waiter that must wait again joins the next round', () => {
    const upstream = upstreamHarness().build(upstreamConfig([], limits(1)));
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
  const h = upstreamHarness();
  const upstream = h.build(upstreamConfig([], { timeout: 5000, ...limits(10) }));
  const sink = new RecordingSink();
  new ProxyCall(upstream, request, sink, callEnvironment(h.clock, h.metrics)).run();
  return { h, upstream, sink };
}

describe('a call waiting for an upstream first endpoint', () => {
  it('is forwarded as soon as an endpoint is published', () => {
    const { h, upstream, sink } = waitingCall();
    h.clock.advance(1000);
    expect(h.pool.made).toHaveLength(0);
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(h.pool.made).toHaveLength(1);
    expect(h.pool.made[0]!.calls).toHaveLength(1);
    expect(sink.failures).toEqual([]);
  });

  it('fails with 504 at its deadline, and is not sent anywhere once an endpoint comes later', () => {
    const { h, upstream, sink } = waitingCall();
    h.clock.advance(5000);
    expect(sink.failures).toEqual(['504 MESHLET_UPSTREAM_TIMEOUT']);
    upstream.setEndpoints([endpointOf('10.0.0.1:80')]);
    expect(h.pool.made[0]!.calls).toHaveLength(0);
  });

  it('is answered 503 MESHLET_UPSTREAM_OVERFLOW at once when limits.maxPending calls wait already', () => {
    const h = upstreamHarness();
    const upstream = h.build(upstreamConfig([], { timeout: 5000, ...limits(1) }));
    const sinks = [new RecordingSink(), new RecordingSink()];
    for (const sink of sinks) new ProxyCall(upstream, request, sink, callEnvironment(h.clock, h.metrics)).run();
    expect(sinks.map((s) => s.failures)).toEqual([[], ['503 MESHLET_UPSTREAM_OVERFLOW']]);
  });

  it('fails at once with 503 MESHLET_NO_HEALTHY_ENDPOINT when endpoints exist but none may take it', () => {
    const h = upstreamHarness();
    const upstream = h.build(upstreamConfig([], { timeout: 5000 }));
    upstream.setEndpoints([endpointOf('10.0.0.1:80', 'unhealthy')]);
    expect(upstream.pick(request)).toMatchObject({ kind: 'fail', code: 'MESHLET_NO_HEALTHY_ENDPOINT' });
    const sink = new RecordingSink();
    new ProxyCall(upstream, request, sink, callEnvironment(h.clock, h.metrics)).run();
    expect(sink.failures).toEqual(['503 MESHLET_NO_HEALTHY_ENDPOINT']);
  });
});
