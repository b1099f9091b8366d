import { describe, expect, it } from 'vitest';
import { DEFAULT_GOSSIP_SETTINGS } from '../../../src/gossip/settings.ts';
import {
  awarenessScaled,
  detectionTimeBound,
  expectedConfirmations,
  pushPullInterval,
  remainingSuspicionTime,
  retransmitLimit,
  suspicionTimeout,
} from '../../../src/gossip/timing.ts';

describe('suspicionTimeout', () => {
  it.each([
    // mult, n, interval, expected: memberlist's util_test.go table
    [3, 1, 1000, 3000],
    [3, 5, 1000, 3000],
    [3, 10, 1000, 3000],
    [3, 50, 1000, 5096],
    [3, 100, 1000, 6000],
    [3, 500, 1000, 8096],
    [3, 1000, 1000, 9000],
    [4, 0, 1000, 4000],
    [4, 30, 1000, 5908],
  ])('mult %i, n %i, interval %i ms → %i ms', (mult, n, interval, expected) => {
    expect(suspicionTimeout(mult, n, interval)).toBe(expected);
  });
});

describe('retransmitLimit', () => {
  it.each([
    [3, 0, 0],
    [3, 1, 3],
    [3, 9, 3],
    [3, 10, 6],
    [3, 99, 6],
    [3, 100, 9],
    [4, 1000, 16],
    [4, 999, 12],
  ])('mult %i, n %i → %i transmissions', (mult, n, expected) => {
    expect(retransmitLimit(mult, n)).toBe(expected);
  });
});

describe('remainingSuspicionTime', () => {
  it.each([
    // confirmations, k, elapsed, min, max, expected (memberlist's suspicion_test.go table)
    [0, 3, 0, 2000, 30_000, 30_000],
    [1, 3, 2000, 2000, 30_000, 14_000],
    [2, 3, 3000, 2000, 30_000, 4810],
    [3, 3, 4000, 2000, 30_000, -2000],
    [4, 3, 5000, 2000, 30_000, -3000],
    [5, 3, 10_000, 2000, 30_000, -8000],
    [0, 0, 1000, 2000, 30_000, 1000],
  ])('%i of %i confirmations, %i ms in, between %i and %i ms → %i ms left', (n, k, elapsed, min, max, expected) => {
    expect(remainingSuspicionTime(n, k, elapsed, min, max)).toBe(expected);
  });
});

describe('expectedConfirmations', () => {
  it.each([
    [4, 1, 0],
    [4, 3, 0],
    [4, 4, 2],
    [4, 100, 2],
    [2, 100, 0],
  ])('mult %i in a cluster of %i → %i', (mult, n, expected) => {
    expect(expectedConfirmations(mult, n)).toBe(expected);
  });
});

describe('pushPullInterval', () => {
  it.each([
    [30_000, 1, 30_000],
    [30_000, 32, 30_000],
    [30_000, 33, 60_000],
    [30_000, 64, 60_000],
    [30_000, 65, 90_000],
    [30_000, 1000, 180_000],
  ])('%i ms with %i members → %i ms', (interval, n, expected) => {
    expect(pushPullInterval(interval, n)).toBe(expected);
  });
});

describe('awarenessScaled', () => {
  it.each([
    [500, 0, 500],
    [500, 1, 1000],
    [1000, 7, 8000],
  ])('%i ms at health score %i → %i ms', (ms, score, expected) => {
    expect(awarenessScaled(ms, score)).toBe(expected);
  });
});

describe('detectionTimeBound', () => {
  it('adds the first probe, the probe, the longest suspicion and the spread of the dead message', () => {
    // 5 s + 1 s + 6 × 4·log10(30) s + 8 × 200 ms
    expect(detectionTimeBound(DEFAULT_GOSSIP_SETTINGS, 30)).toBe(5000 + 1000 + 6 * 5908 + 8 * 200);
  });
});
