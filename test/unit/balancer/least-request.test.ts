import { describe, expect, it } from 'vitest';
import { countPicks, endpoint, harness, lbConfig } from './fixtures.ts';

describe('least_request', () => {
  it('never picks the busier of its two choices', () => {
    const set = [endpoint('10.0.0.1:80'), endpoint('10.0.0.2:80'), endpoint('10.0.0.3:80')];
    const picker = harness().build('least_request', set);
    for (let i = 0; i < 5; i++) picker.onStart(set[0]!);
    const counts = countPicks(picker, 1000);
    expect(counts.get('10.0.0.1:80')).toBeUndefined();
    expect(counts.get('10.0.0.2:80')! + counts.get('10.0.0.3:80')!).toBe(1000);
  });

  it('sends each new request to the endpoint with fewest in flight when choices cover all', () => {
    const set = [endpoint('10.0.0.1:80'), endpoint('10.0.0.2:80'), endpoint('10.0.0.3:80')];
    const picker = harness().build(lbConfig('least_request', { choiceCount: 5 }), set);
    // Requests that never finish pile up evenly: each pick goes where the fewest are.
    for (let i = 0; i < 30; i++) picker.onStart(picker.pick({})!);
    expect(picker.describe().endpoints.map((e) => e.inFlight)).toEqual([10, 10, 10]);
  });

  it('with unequal weights, scales a busy endpoint down by its load', () => {
    const heavy = endpoint('10.0.0.1:80', { weight: 2 });
    const set = [heavy, endpoint('10.0.0.2:80'), endpoint('10.0.0.3:80')];
    const idle = countPicks(harness().build('least_request', set), 4000);
    expect(idle.get(heavy.address)! / 4000).toBeCloseTo(0.5, 2);

    const picker = harness().build('least_request', set);
    for (let i = 0; i < 3; i++) picker.onStart(heavy);
    // Effective weights 2/4, 1, 1: the heavy endpoint drops from half the picks to a fifth.
    const busy = countPicks(picker, 4000);
    expect(busy.get(heavy.address)! / 4000).toBeCloseTo(0.2, 1);
  });

  it('keeps in-flight counts at zero or above when ends outnumber starts', () => {
    const a = endpoint('10.0.0.1:80');
    const picker = harness().build('least_request', [a]);
    picker.onStart(a);
    picker.onEnd(a, 5, false);
    picker.onEnd(a, 5, false);
    expect(picker.describe().endpoints[0]!.inFlight).toBe(0);
    picker.onStart(a);
    expect(picker.describe().endpoints[0]!.inFlight).toBe(1);
  });
});
