// SWIM's claim: membership spreads in O(log n) gossip rounds. A fleet of n members boots at
// once, all joining through one seed; we count gossip rounds (gossipInterval, 200 ms) until
// every member lists every other as alive. Then one more member joins the converged cluster,
// and we count the rounds until everyone lists it: the spread of a single update.
import { describe, expect, it } from 'vitest';
import { DEFAULT_GOSSIP_SETTINGS } from '../../src/gossip/settings.ts';
import { GossipCluster } from '../helpers/gossip-cluster.ts';

const ROUND = DEFAULT_GOSSIP_SETTINGS.gossipIntervalMs;

async function roundsUntil(cluster: GossipCluster, done: () => boolean): Promise<number> {
  const start = cluster.clock.now();
  await cluster.run(120_000, 20, done, ROUND);
  expect(done()).toBe(true);
  return (cluster.clock.now() - start) / ROUND;
}

async function measure(n: number, seed: number) {
  const cluster = new GossipCluster({ seed });
  for (let i = 0; i < n; i++) await cluster.add();
  const [first, ...rest] = cluster.members;
  for (const m of rest) void m.membership.join([first!.addr]);
  const fleetRounds = await roundsUntil(cluster, () => cluster.allSee(cluster.members, cluster.members, 'alive'));
  const udpBytesPerMember = Math.round(cluster.network.total.bytesSent / n);
  await cluster.run(10_000, 50);
  const existing = [...cluster.members];
  const newcomer = await cluster.add();
  void newcomer.membership.join([existing[Math.floor(n / 2)]!.addr]);
  const oneJoinRounds = await roundsUntil(cluster, () => cluster.allSee(existing, [newcomer], 'alive'));
  for (const m of cluster.members) await m.membership.close();
  return { n, log2n: Number(Math.log2(n).toFixed(1)), fleetRounds, oneJoinRounds, udpBytesPerMember };
}

describe('membership spread', () => {
  it('converges in O(log n) gossip rounds for n = 10, 100 and 1,000, booted at once and joining one by one', async () => {
    const table = [];
    for (const n of [10, 100, 1000]) table.push(await measure(n, 42 + n));
    console.table(table);
    for (const row of table) {
      expect(row.fleetRounds, `fleet of ${row.n}`).toBeLessThanOrEqual(2 * row.log2n);
      expect(row.oneJoinRounds, `one join into ${row.n}`).toBeLessThanOrEqual(2 * row.log2n);
    }
  }, 120_000);
});
