import { describe, expect, it } from 'vitest';
import { LoadTally, runBounded } from '../../../../src/cli/demo/load.ts';

describe('runBounded', () => {
  it('makes exactly the asked number of calls with at most `concurrency` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    let calls = 0;
    await runBounded(25, 4, async () => {
      calls++;
      inFlight++;
      most = Math.max(most, inFlight);
      await Promise.resolve();
      inFlight--;
    });
    expect(calls).toBe(25);
    expect(most).toBe(4);
  });

  it('runs fewer workers than the concurrency when there are fewer calls', async () => {
    let calls = 0;
    await runBounded(2, 10, async () => {
      calls++;
    });
    expect(calls).toBe(2);
  });
});

describe('LoadTally', () => {
  it('counts calls by the instance that answered and keeps the first failure', () => {
    const tally = new LoadTally();
    tally.succeeded(1.5, 'a');
    tally.succeeded(2.5, 'a');
    tally.succeeded(1, 'b');
    tally.failed('HTTP 503');
    tally.failed('HTTP 502');
    expect(tally.calls).toBe(5);
    expect(tally.failures).toBe(2);
    expect(tally.firstFailure).toBe('HTTP 503');
    expect(Object.fromEntries(tally.byInstance)).toEqual({ a: 2, b: 1 });
  });
});
