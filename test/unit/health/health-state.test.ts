import { describe, expect, it } from 'vitest';
import { afterCheck, UNDECIDED, type HealthStreak } from '../../../src/health/health-state.ts';
import type { ServiceHealth } from '../../../src/gossip/messages.ts';

const limits = { fall: 2, rise: 3 };

/** The health after each result of `results` ("P" pass, "F" fail), from 'unknown'. */
function walk(results: string): ServiceHealth[] {
  let state: HealthStreak = UNDECIDED;
  return [...results].map((r) => (state = afterCheck(state, r === 'P', limits)).health);
}

describe('fall and rise (fall 2, rise 3)', () => {
  it.each([
    ['the first pass decides', 'P', ['passing']],
    ['the first failure decides', 'F', ['failing']],
    ['one failure is not enough to fall', 'PF', ['passing', 'passing']],
    ['two failures in a row fall', 'PFF', ['passing', 'passing', 'failing']],
    ['a pass between failures resets the count', 'PFPF', ['passing', 'passing', 'passing', 'passing']],
    ['three passes in a row rise', 'FPPP', ['failing', 'failing', 'failing', 'passing']],
    ['a failure between passes resets the count', 'FPPFPP', ['failing', 'failing', 'failing', 'failing', 'failing', 'failing']],
    ['fall again after a rise', 'FPPPFF', ['failing', 'failing', 'failing', 'passing', 'passing', 'failing']],
  ])('%s: %s', (_name, results, expected) => {
    expect(walk(results)).toEqual(expected);
  });

  it('with fall 1 and rise 1 every result decides', () => {
    let state: HealthStreak = UNDECIDED;
    const seen = [true, false, true, false].map((pass) => (state = afterCheck(state, pass, { fall: 1, rise: 1 })).health);
    expect(seen).toEqual(['passing', 'failing', 'passing', 'failing']);
  });
});
