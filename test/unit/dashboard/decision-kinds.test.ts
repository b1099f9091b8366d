// The dashboard listens to the decision stream by event name, and EventSource delivers a named
// event only to a listener of that name: a kind missing from the page's list would never show.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DECISION_KINDS } from '../../../src/observability/decisions.ts';

describe("the dashboard's decision kinds", () => {
  it('are every kind the agent records, in its order, and the state, bad and good sets name only kinds that exist', () => {
    const page = readFileSync(new URL('../../../src/dashboard/static/dashboard.js', import.meta.url), 'utf8');
    const list = (name: string): string[] => {
      const match = new RegExp(`const ${name} = (?:new Set\\()?\\[([^\\]]*)\\]`).exec(page);
      if (!match) throw new Error(`no ${name} in dashboard.js`);
      return [...match[1]!.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);
    };
    expect(list('DECISION_KINDS')).toEqual([...DECISION_KINDS]);
    for (const name of ['STATE_KINDS', 'BAD_KINDS', 'GOOD_KINDS']) for (const kind of list(name)) expect(DECISION_KINDS).toContain(kind);
    expect(list('BAD_KINDS')).toContain('unreachable');
    expect(list('GOOD_KINDS')).toContain('reachable');
  });
});
