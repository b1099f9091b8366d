// SWIM's claim: membership spreads in O(log n) gossip rounds. A fleet of n members boots at
// once, all joining through one seed; we count gossip rounds (gossipInterval, 200 ms) until
// every member lists every other as alive.
import { describe, expect, it } from 'vitest';
import { DEFAULT_GOSSIP_SETTINGS } from '../../src/gossip/settings.ts';
import { GossipCluster } from '../helpers/gossip-cluster.ts';

async function roundsToConverge(n: number, seed: number): Promise<{ rounds: number; udpBytesPerMember: number }> {
  const cluster = new GossipCluster({ seed });
  for (let i = 0; i < n; i++) await cluster.add();
  const [first, ...rest] = cluster.members;
  const start = cluster.clock.now();
  for (const m of rest) void m.membership.join([first!.addr]);
  const round = DEFAULT_GOSSIP_SETTINGS.gossipIntervalMs;
  await cluster.run(120_000, 20, () => cluster.allSee(cluster.members, cluster.members, 'alive'), round);
  expect(cluster.allSee(cluster.members, cluster.members, 'alive')).toBe(true);
  const rounds = (cluster.clock.now() - start) / round;
  for (const m of cluster.members) await m.membership.close();
  return { rounds, udpBytesPerMember: Math.round(cluster.network.total.bytesSent / n) };
}

describe('a fleet joining through one seed', () => {
  it('converges on full membership in O(log n) gossip rounds for n = 10, 100 and 1,000', async () => {
    const table: { n: number; rounds: number; log2n: number; udpBytesPerMember: number }[] = [];
    for (const n of [10, 100, 1000]) {
      const { rounds, udpBytesPerMember } = await roundsToConverge(n, 42 + n);
      table.push({ n, rounds, log2n: Number(Math.log2(n).toFixed(1)), udpBytesPerMember });
    }
    console.table(table);
    for (const row of table) expect(row.rounds, `n = ${row.n}`).toBeLessThanOrEqual(2 * row.log2n);
  }, 120_000);
});
