import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { DecisionLog, type Decision } from '../../../src/observability/decisions.ts';

describe('DecisionLog', () => {
  it('keeps only the latest decisions, oldest first, numbered in order', () => {
    const log = new DecisionLog(new FakeClock(), () => 1_700_000_000_000, 3);
    for (let i = 1; i <= 5; i++) log.record({ kind: 'ejected', scope: 'payments', endpoint: `10.0.0.${i}:80`, reason: `ejected ${i}` });
    expect(log.recent().map((d) => [d.seq, d.reason])).toEqual([
      [3, 'ejected 3'],
      [4, 'ejected 4'],
      [5, 'ejected 5'],
    ]);
    expect(log.recent()[0]!.at).toBe(1_700_000_000_000);
  });

  it('tells every subscriber, even when one of them throws, until it unsubscribes', () => {
    const log = new DecisionLog(new FakeClock(), () => 0);
    const heard: Decision[] = [];
    log.subscribe(() => {
      throw new Error('broken reader');
    });
    const unsubscribe = log.subscribe((d) => heard.push(d));
    log.record({ kind: 'breaker_opened', scope: 'payments', reason: 'opened' });
    unsubscribe();
    log.record({ kind: 'breaker_closed', scope: 'payments', reason: 'closed' });
    expect(heard.map((d) => d.kind)).toEqual(['breaker_opened']);
  });

  it('publishes a per-call decision at most once a second, counting the calls in between into the next one', () => {
    const clock = new FakeClock();
    const log = new DecisionLog(clock, () => 0);
    const shed = log.counter('shed', 'service:orders');
    let reasonsBuilt = 0;
    const reason = () => `shed: ${++reasonsBuilt}`;
    for (let i = 0; i < 100; i++) shed.hit(reason);
    clock.advance(999);
    shed.hit(reason);
    expect(log.recent().map((d) => d.count)).toEqual([1]);
    clock.advance(1);
    shed.hit(reason);
    expect(log.recent().map((d) => d.count)).toEqual([1, 101]);
    expect(reasonsBuilt).toBe(2);
  });
});
