import { describe, expect, it } from 'vitest';
import type { Picker } from '../../../src/balancer/picker.ts';
import { countPicks, endpoint, harness, lbConfig } from './fixtures.ts';

const a = endpoint('10.0.0.1:80');
const b = endpoint('10.0.0.2:80');
const c = endpoint('10.0.0.3:80');

const inFlight = (picker: Picker): Record<string, number> =>
  Object.fromEntries(picker.describe().endpoints.map((e) => [e.address, e.inFlight]));

describe('a picker built with the previous one', () => {
  it('keeps in-flight counts for the addresses that remain, even across algorithms', () => {
    const h = harness();
    const old = h.build('least_request', [a, b]);
    for (let i = 0; i < 3; i++) old.onStart(a);
    old.onStart(b);
    const next = h.build('peak_ewma', [a, c], old);
    expect(inFlight(next)).toEqual({ '10.0.0.1:80': 3, '10.0.0.3:80': 0 });
  });

  it('settles requests started on the old picker, whichever picker they end on', () => {
    const h = harness();
    const old = h.build('least_request', [a, b]);
    for (let i = 0; i < 4; i++) old.onStart(a);
    // A fresh endpoint object with the same address, as a new discovery snapshot would carry.
    const a2 = endpoint(a.address);
    const next = h.build('least_request', [a2, b], old);
    next.onEnd(a, 10, false);
    old.onEnd(a, 10, false);
    next.onEnd(a2, 10, false);
    expect(inFlight(next)['10.0.0.1:80']).toBe(1);
    old.onEnd(a, 10, false);
    old.onEnd(a, 10, false);
    expect(inFlight(next)['10.0.0.1:80']).toBe(0);
  });

  it('ignores the end of a request to an endpoint that has left', () => {
    const h = harness();
    const old = h.build('peak_ewma', [a, b]);
    old.onStart(b);
    const next = h.build('peak_ewma', [a], old);
    expect(() => next.onEnd(b, 10, false)).not.toThrow();
    expect(inFlight(next)).toEqual({ '10.0.0.1:80': 0 });
  });

  it('keeps the load of an endpoint that was unhealthy for a while', () => {
    const h = harness();
    const first = h.build('least_request', [a, b]);
    first.onStart(b);
    first.onStart(b);
    const sick = h.build('least_request', [a, { ...b, health: 'unhealthy' }], first);
    const healed = h.build('least_request', [a, b], sick);
    expect(inFlight(healed)).toEqual({ '10.0.0.1:80': 0, '10.0.0.2:80': 2 });
  });

  it('still avoids the endpoint that was busy before a reload', () => {
    const h = harness();
    const old = h.build('least_request', [a, b]);
    for (let i = 0; i < 5; i++) old.onStart(a);
    const next = h.build('least_request', [a, b], old);
    expect(countPicks(next, 100).get(b.address)).toBe(100);
  });

  it('keeps peak_ewma latency estimates, so a slow endpoint stays avoided', () => {
    const h = harness();
    const lb = lbConfig('peak_ewma', { decay: 10_000 });
    const old = h.build(lb, [a, b]);
    old.onStart(a);
    old.onEnd(a, 5, false);
    old.onStart(b);
    old.onEnd(b, 500, false);
    const next = h.build(lb, [a, b, c], old);
    const estimates = Object.fromEntries(next.describe().endpoints.map((e) => [e.address, e.ewmaMs]));
    expect(estimates).toEqual({ '10.0.0.1:80': 5, '10.0.0.2:80': 500, '10.0.0.3:80': undefined });
    const counts = countPicks(next, 50);
    expect(counts.get(b.address)).toBeUndefined();
  });

  it('goes on with round robin after the endpoint picked last, across a health flip and a join', () => {
    const h = harness(5);
    const d = endpoint('10.0.0.4:80');
    const first = h.build('round_robin', [a, b, c]);
    const picked = [first.pick({})!.address];
    while (picked[picked.length - 1] !== b.address) picked.push(first.pick({})!.address);
    // b was picked last; c goes unhealthy: the rotation goes on at a, not at a random place.
    const sick = h.build('round_robin', [a, b, { ...c, health: 'unhealthy' }], first);
    expect([sick.pick({})!.address, sick.pick({})!.address]).toEqual([a.address, b.address]);
    const grown = h.build('round_robin', [a, b, c, d], sick);
    expect([grown.pick({})!.address, grown.pick({})!.address, grown.pick({})!.address]).toEqual([c.address, d.address, a.address]);
  });
});
