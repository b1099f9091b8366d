import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, MAX_DURATION_MS, parseDuration } from '../../../src/config/duration.ts';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['2s', 2000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.1s', 1100],
    ['0.5ms', 0.5],
    ['1500', 1500],
    [' 2s ', 2000],
    [1500, 1500],
    [0, 0],
  ] as const)('reads %j as %d ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ ok: true, ms });
  });

  it.each([
    ['', 'expected a duration such as 250ms, 2s or 1m30s, got an empty string'],
    ['fast', 'expected a duration such as 250ms, 2s or 1m30s, got "fast"'],
    ['2d', 'unknown unit "d" in "2d"; use ms, s, m or h'],
    ['2 s', 'expected a duration such as 250ms, 2s or 1m30s, got "2 s"'],
    ['1m30', 'missing a unit after 30 in "1m30"; use ms, s, m or h'],
    ['30s1m', 'units in "30s1m" must go from largest to smallest, each once, as in 1h30m or 1m30s'],
    ['1s1s', 'units in "1s1s" must go from largest to smallest, each once, as in 1h30m or 1m30s'],
    ['-1s', 'must not be negative, got "-1s"'],
    [-5, 'must not be negative, got -5'],
    ['1.s', 'expected a duration such as 250ms, 2s or 1m30s, got "1.s"'],
    ['25d', 'unknown unit "d" in "25d"; use ms, s, m or h'],
    ['600h', 'must be at most 596h31m23s647ms (about 24.8 days, the longest a Node timer can wait), got "600h"'],
    [Number.POSITIVE_INFINITY, 'expected a duration such as 250ms, 2s or 1m30s, got Infinity'],
  ] as const)('refuses %j: %s', (input, reason) => {
    expect(parseDuration(input)).toEqual({ ok: false, reason });
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [1000, '1s'],
    [90_000, '1m30s'],
    [3_723_004, '1h2m3s4ms'],
  ])('writes %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it('reads back whatever it writes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_DURATION_MS }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toEqual({ ok: true, ms });
      }),
    );
  });
});
