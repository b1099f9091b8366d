// A circuit breaker on opossum, fed outcomes by hand: its window is rotated by the fake Clock
// (the shared rotation), its reset timer is opossum's setTimeout, driven by vitest's fake timers.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { DecisionLog } from '../../../src/observability/decisions.ts';
import { outcomeOf, type Outcome } from '../../../src/proxy/call/outcome.ts';
import { rotationOf } from '../../../src/resilience/breaker-rotation.ts';
import { CircuitBreaker, type BreakerSettings, type BreakerTransition } from '../../../src/resilience/circuit-breaker.ts';

const OK: Outcome = outcomeOf(200, undefined, undefined, 1);
const HTTP_500: Outcome = outcomeOf(500, undefined, undefined, 1);
const REFUSED: Outcome = outcomeOf(0, undefined, 'connect_failed', 1);
const CANCELLED: Outcome = outcomeOf(0, undefined, 'cancelled', 1);

const SETTINGS: BreakerSettings = { errorThresholdPercentage: 50, volumeThreshold: 4, windowMs: 10_000, resetTimeoutMs: 5000, halfOpenRequests: 1 };

let clock: FakeClock;
let log: DecisionLog;
let transitions: BreakerTransition[];

beforeEach(() => {
  vi.useFakeTimers();
  clock = new FakeClock();
  log = new DecisionLog(clock, () => 0);
  transitions = [];
});

afterEach(() => {
  vi.useRealTimers();
});

function breaker(settings: Partial<BreakerSettings> = {}): CircuitBreaker {
  return new CircuitBreaker('10.0.0.7:8080', { ...SETTINGS, ...settings }, rotationOf(clock), (_b, t) => {
    transitions.push(t);
    return log.record({ kind: 'breaker_opened', scope: 'catalog', reason: t.reason });
  });
}

function feed(b: CircuitBreaker, ...outcomes: Outcome[]): void {
  for (const outcome of outcomes) b.record(outcome, '10.0.0.7:8080');
}

describe('a circuit breaker', () => {
  it('opens at the error threshold only once the window holds the minimum volume, and says why', () => {
    const b = breaker();
    feed(b, REFUSED, REFUSED, REFUSED);
    expect(b.state).toBe('closed');
    feed(b, OK);
    // 3 of 4 failed, but the check runs on a failure: the next one decides.
    expect(b.state).toBe('closed');
    feed(b, REFUSED);
    expect(b.state).toBe('open');
    expect(b.admit()).toBe(false);
    expect(transitions.map((t) => t.reason)).toEqual([
      'opened: 4 of 5 calls failed in the last 10s (80 % ≥ 50 %, at least 4 calls), last MESHLET_CONNECT_FAILED from 10.0.0.7:8080; half-open in 5s',
    ]);
    expect(transitions[0]!.data).toMatchObject({ calls: 5, failures: 4, errorPercentage: 80, threshold: 50 });
    b.shutdown();
  });

  it('stays closed below the threshold however many calls fail, and counts nothing of cancels and overflows', () => {
    const b = breaker();
    for (let i = 0; i < 50; i++) feed(b, OK, HTTP_500, OK);
    feed(b, CANCELLED, CANCELLED, CANCELLED, CANCELLED, outcomeOf(0, undefined, 'overflow', 1));
    expect(b.state).toBe('closed');
    expect(b.counts()).toEqual({ calls: 150, failures: 50 });
    b.shutdown();
  });

  it('forgets failures older than its window, one bucket a second', () => {
    const b = breaker({ windowMs: 3000 });
    feed(b, HTTP_500, HTTP_500, HTTP_500);
    clock.advance(1000);
    feed(b, OK);
    expect(b.counts()).toEqual({ calls: 4, failures: 3 });
    clock.advance(2000);
    expect(b.counts()).toEqual({ calls: 1, failures: 0 });
    // Three old failures are gone: one more does not open it.
    feed(b, OK, OK, HTTP_500);
    expect(b.state).toBe('closed');
    b.shutdown();
  });

  it('turns half-open after resetTimeout, a success closes it and a failure reopens it', () => {
    const b = breaker();
    feed(b, REFUSED, REFUSED, REFUSED, REFUSED);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(4999);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(b.state).toBe('half_open');
    expect(b.admit()).toBe(true);
    feed(b, HTTP_500);
    expect(b.state).toBe('open');
    expect(transitions.at(-1)!.reason).toBe('reopened: a probe failed (HTTP 500 from 10.0.0.7:8080); half-open again in 5s');
    vi.advanceTimersByTime(5000);
    expect(b.admit()).toBe(true);
    feed(b, OK);
    expect(b.state).toBe('closed');
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['closed>open', 'open>half_open', 'half_open>open', 'open>half_open', 'half_open>closed']);
    b.shutdown();
  });

  it('admits at most halfOpenRequests probes at once, and closes after that many successes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.constantFrom('admit', 'ok', 'cancel'), { maxLength: 40 }), (n, steps) => {
        const b = breaker({ halfOpenRequests: n });
        feed(b, REFUSED, REFUSED, REFUSED, REFUSED);
        vi.advanceTimersByTime(5000);
        let inFlight = 0;
        let successes = 0;
        for (const step of steps) {
          if (b.state !== 'half_open') break;
          if (step === 'admit') {
            const admitted = b.admit();
            expect(admitted).toBe(inFlight < n);
            if (admitted) inFlight++;
          } else if (inFlight > 0) {
            inFlight--;
            if (step === 'ok') successes++;
            feed(b, step === 'ok' ? OK : CANCELLED);
          }
          expect(inFlight).toBeLessThanOrEqual(n);
          expect(b.state).toBe(successes >= n ? 'closed' : 'half_open');
        }
        b.shutdown();
      }),
      { numRuns: 200 },
    );
  });

  it('is held open or closed by an operator, and decides again when given back', () => {
    const b = breaker();
    b.force('open');
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(20_000);
    expect(b.state).toBe('open');
    b.force('closed');
    feed(b, REFUSED, REFUSED, REFUSED, REFUSED, REFUSED);
    expect(b.state).toBe('closed');
    b.force('auto');
    feed(b, REFUSED);
    expect(b.state).toBe('open');
    expect(transitions.map((t) => [t.forced, t.reason.split(':')[0]])).toEqual([
      [true, 'forced open by operator'],
      [true, 'forced closed by operator'],
      [true, 'returned to automatic by operator'],
      [false, 'opened'],
    ]);
    expect(b.describe()).toMatchObject({ state: 'open', override: 'auto', calls: 6, failures: 6, errorPercentage: 100, lastTransition: { from: 'closed', to: 'open' } });
    b.shutdown();
  });

  it('takes a changed policy in force: a new threshold at once, a new resetTimeout at the next opening', () => {
    const b = breaker();
    b.reconfigure({ ...SETTINGS, volumeThreshold: 2, resetTimeoutMs: 1000 });
    feed(b, REFUSED, REFUSED);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1000);
    expect(b.state).toBe('half_open');
    b.shutdown();
  });

  it('shares one rotation interval with every breaker of its clock, and leaves no timer once shut down', () => {
    const breakers = [breaker(), breaker({ windowMs: 2000 }), breaker()];
    expect(clock.pendingTimers()).toBe(1);
    expect(rotationOf(clock).listeners).toBe(3);
    expect(rotationOf(clock).controller.listenerCount('rotate')).toBe(3);
    feed(breakers[0]!, REFUSED, REFUSED, REFUSED, REFUSED);
    expect(vi.getTimerCount()).toBe(1);
    for (const b of breakers) b.shutdown();
    expect(clock.pendingTimers()).toBe(0);
    expect(rotationOf(clock).controller.listenerCount('rotate')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
