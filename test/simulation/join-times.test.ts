// A member joining a converged cluster, timed as the Serf bench times it: from its socket
// being bound (it joins through the seed at once) until every member lists every other
// alive. The seed and the joiner both gossip the joiner's alive at once, so the news needs
// about log(n) / log(6) hops of half a gossip interval each (the rounds' phases differ).
import { describe, expect, it } from 'vitest';
import { DEFAULT_GOSSIP_SETTINGS } from '../../src/gossip/settings.ts';
import { joinSummary } from './join-times.ts';

const ROUND = DEFAULT_GOSSIP_SETTINGS.gossipIntervalMs;
const SEEDS = Array.from({ length: 21 }, (_, i) => 200 + i);

describe('a join', () => {
  it('converges within two gossip rounds (median) and five (max) at n = 10, 25 and 50', async () => {
    const rows = [];
    for (const n of [10, 25, 50]) rows.push(await joinSummary(n, SEEDS));
    console.table(rows);
    for (const row of rows) {
      expect(row.medianMs, `median join, n = ${row.n}`).toBeLessThanOrEqual(2 * ROUND);
      expect(row.maxMs, `slowest join, n = ${row.n}`).toBeLessThanOrEqual(5 * ROUND);
    }
  }, 60_000);
});
