import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { Suspicion } from '../../../src/gossip/suspicion.ts';

function suspicion(k: number) {
  const clock = new FakeClock();
  const fired: { at: number; confirmations: number }[] = [];
  const s = new Suspicion(clock, 'a', k, 2000, 30_000, (confirmations) => fired.push({ at: clock.now(), confirmations }));
  return { clock, fired, s };
}

describe('Suspicion', () => {
  it('with no confirmations times out at the maximum', () => {
    const { clock, fired } = suspicion(3);
    clock.advance(29_999);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ at: 30_000, confirmations: 0 }]);
  });

  it('shrinks with each independent confirmation and ignores repeats and the accuser', () => {
    const { clock, fired, s } = suspicion(3);
    expect(s.confirm('a')).toBe(false);
    clock.advance(2000);
    expect(s.confirm('b')).toBe(true);
    expect(s.confirm('b')).toBe(false);
    // One of three confirmations: 30 s − log(2)/log(4) × 28 s = 16 s from the start.
    clock.advance(13_999);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ at: 16_000, confirmations: 1 }]);
  });

  it('fires at once when enough confirmations arrive after the minimum', () => {
    const { clock, fired, s } = suspicion(2);
    clock.advance(5000);
    s.confirm('b');
    expect(fired).toEqual([]);
    s.confirm('c');
    clock.advance(0);
    expect(fired).toEqual([{ at: 5000, confirmations: 2 }]);
    expect(s.confirm('d')).toBe(false);
  });

  it('with k = 0 waits only the minimum, and never fires once cancelled', () => {
    const quick = suspicion(0);
    quick.clock.advance(2000);
    expect(quick.fired).toHaveLength(1);
    const cancelled = suspicion(3);
    cancelled.s.cancel();
    cancelled.clock.advance(60_000);
    expect(cancelled.fired).toEqual([]);
  });
});
