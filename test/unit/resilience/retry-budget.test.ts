// The retry budget shared by retries and hedges: on a fake clock, extra attempts stay within
// ratio × the calls of the last 2 s plus minPerSecond each second, however calls and failures
// interleave; and through the retry step, a failing upstream is not sent attempts × its calls.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { REPLAY_BUFFER_LIMIT } from '../../../src/config/defaults.ts';
import { RetryBudget, TOKEN_LIFE_MS } from '../../../src/resilience/retry-budget.ts';
import { retryStep } from '../../../src/resilience/retry-step.ts';
import { elapse } from '../../helpers/fake-time.ts';
import { callRig } from '../../helpers/in-memory-forwarder.ts';
import { sampleValue } from '../observability/prometheus-text.ts';


describe('the retry budget', () => {
  it('lets ratio of the recent calls go again, and no more', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget(clock);
    for (let i = 0; i < 10; i++) budget.deposit(0.2);
    expect([budget.tryWithdraw(0), budget.tryWithdraw(0), budget.tryWithdraw(0)]).toEqual([true, true, false]);
  });

  it('forgets calls older than the tokens live (2 s)', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget(clock);
    for (let i = 0; i < 10; i++) budget.deposit(0.5);
    clock.advance(TOKEN_LIFE_MS);
    expect(budget.tryWithdraw(0)).toBe(false);
  });

  it('has a floor of minPerSecond extra attempts each second, which does not accumulate', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget(clock);
    const grants = (): number => [0, 1, 2, 3, 4].filter(() => budget.tryWithdraw(3)).length;
    expect(grants()).toBe(3);
    clock.advance(5000);
    expect(grants()).toBe(3);
  });

  it('counts the floor among the extra attempts of a second, not on top of what the calls paid for', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget(clock);
    // A storm at 200 calls/s, each wanting a retry: ratio 0.2 pays for 40 a second; a floor of 10 adds none.
    let granted = 0;
    for (let ms = 0; ms < 10_000; ms += 5) {
      clock.advance(5);
      budget.deposit(0.2);
      if (budget.tryWithdraw(10)) granted++;
    }
    expect(granted).toBeLessThanOrEqual(0.2 * 2000 + 1);
    // A quiet upstream still gets its floor.
    clock.advance(5000);
    expect([0, 1, 2, 3].filter(() => budget.tryWithdraw(3)).length).toBe(3);
  });

  // Each event: a call (deposit) or a wanted extra attempt, after a pause.
  const events = fc.array(fc.record({ pauseMs: fc.integer({ min: 0, max: 1500 }), extra: fc.boolean() }), { maxLength: 400 });
  const params = fc.record({ ratio: fc.double({ min: 0.01, max: 1, noNaN: true }), minPerSecond: fc.integer({ min: 0, max: 5 }) });

  it('property: extra attempts never exceed ratio × calls + minPerSecond × seconds, from the start or over any window', () => {
    fc.assert(
      fc.property(params, events, ({ ratio, minPerSecond }, list) => {
        const clock = new FakeClock();
        const budget = new RetryBudget(clock);
        const calls: number[] = [];
        const extras: number[] = [];
        for (const { pauseMs, extra } of list) {
          clock.advance(pauseMs);
          if (!extra) {
            budget.deposit(ratio);
            calls.push(clock.now());
          } else if (budget.tryWithdraw(minPerSecond)) {
            extras.push(clock.now());
          }
        }
        const seconds = (from: number, to: number): number => Math.floor(to / 1000) - Math.floor(from / 1000) + 1;
        const within = (times: number[], from: number, to: number): number => times.filter((t) => t >= from && t < to).length;
        // From the start: every token spent was deposited by a call, once.
        expect(extras.length).toBeLessThanOrEqual(ratio * calls.length + minPerSecond * seconds(0, clock.now()) + 1e-9);
        // Over any window: what was spent in it came from calls at most a token's life before it.
        for (const start of extras) {
          const end = start + TOKEN_LIFE_MS;
          expect(within(extras, start, end)).toBeLessThanOrEqual(ratio * within(calls, start - TOKEN_LIFE_MS, end) + minPerSecond * seconds(start, end) + 1e-9);
        }
      }),
    );
  });
});

describe('the retry budget under the retry step', () => {
  it('keeps a failing upstream at (1 + ratio) × its calls, records the decision and counts it', async () => {
    const rig = callRig({
      addresses: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'],
      policy: { retry: { attempts: 3, backoff: { base: 1, max: 1 }, on: ['5xx'], budget: { ratio: 0.2, minPerSecond: 0 }, bufferLimit: REPLAY_BUFFER_LIMIT } },
      steps: (clock) => [retryStep({ clock, random: () => 0, wallNow: () => 0 })],
    });
    const calls = 100;
    for (let i = 0; i < calls; i++) {
      const { sink } = rig.call();
      // Every attempt of this call is answered 503 until the call gives up.
      for (let answered = 0; sink.status === 0; ) {
        const attempts = rig.attempts();
        for (; answered < attempts.length; answered++) attempts[answered]!.head(503, {}, true);
        await elapse(rig.clock, 1);
      }
      await elapse(rig.clock, 10);
    }
    expect(rig.attempts().length).toBeLessThanOrEqual(calls * 1.2);
    expect(rig.attempts().length).toBeGreaterThan(calls);
    expect(rig.decisions.recent()).toContainEqual(expect.objectContaining({ kind: 'budget_exhausted', scope: 'catalog', reason: expect.stringContaining('retry budget exhausted') }));
    const text = await rig.metrics.metricsText();
    expect(sampleValue(text, 'meshlet_retry_budget_exhausted_total', { upstream: 'catalog', kind: 'retry' })).toBeGreaterThan(0);
  });
});
