// Lifeguard's claim: with lossy links and members whose event loops lag, the slow members stop
// accusing healthy ones (their local health score stretches their probes), so no healthy
// member is ever declared dead. The slow members here lag 700 ms, longer than the 500 ms probe
// timeout, so they are suspected themselves over and over, and must refute each time; none of
// them is declared dead either (seeds 11 to 18 all give zero deaths).
import { describe, expect, it } from 'vitest';
import type { GossipSettings } from '../../src/gossip/settings.ts';
import { convergedCluster } from '../helpers/gossip-cluster.ts';

const MEMBERS = 40;
const SLOW = 10;
const LAG_MS = 700;

async function lossyRunWithSlowMembers(settings: Partial<GossipSettings>, seed: number, minutes: number) {
  const cluster = await convergedCluster(MEMBERS, { seed, settings });
  const slow = new Set(cluster.members.slice(-SLOW).map((m) => m.name));
  const counts = { healthySuspected: 0, healthyDead: 0, slowSuspected: 0, slowDead: 0 };
  for (const m of cluster.members) {
    m.membership.subscribe(({ member }) => {
      const kind = slow.has(member.node) ? 'slow' : 'healthy';
      if (member.status === 'suspect') counts[`${kind}Suspected`]++;
      if (member.status === 'dead') counts[`${kind}Dead`]++;
    });
  }
  cluster.network.setLoss(0.05);
  for (const m of cluster.members.filter((c) => slow.has(c.name))) cluster.network.slow(m.addr, LAG_MS, (ms) => m.membership.noteEventLoopLag(ms));
  await cluster.run(minutes * 60_000, 50);
  const stillListed = cluster.members.every((o) => cluster.members.every((m) => m === o || ['alive', 'suspect'].includes(o.membership.member(m.name)?.status ?? 'gone')));
  return { minutes, ...counts, healthySuspectedPerMinute: Math.round(counts.healthySuspected / minutes), stillListed };
}

describe('a lossy network with slow members', () => {
  it(`never declares a running member dead over ten minutes (5 % loss, ${SLOW} of ${MEMBERS} members lagging ${LAG_MS} ms)`, async () => {
    const withLifeguard = await lossyRunWithSlowMembers({}, 11, 10);
    const without = await lossyRunWithSlowMembers({ awarenessMaxMultiplier: 1 }, 11, 2);
    console.table({ 'with Lifeguard awareness': withLifeguard, 'awareness off (score pinned at 0)': without });
    expect(withLifeguard.healthyDead).toBe(0);
    expect(withLifeguard.slowDead).toBe(0);
    expect(withLifeguard.stillListed).toBe(true);
    // What the local health score buys (suspicion events, counted at every observer): the slow
    // members' false accusations mostly stop.
    expect(withLifeguard.healthySuspectedPerMinute * 4).toBeLessThan(without.healthySuspectedPerMinute);
  }, 60_000);
});
