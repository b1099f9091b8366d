// A member killed outright (kill -9: no leave, no answers) is declared dead by every other
// member within the detection time the timing math predicts.
import { describe, expect, it } from 'vitest';
import { DEFAULT_GOSSIP_SETTINGS } from '../../src/gossip/settings.ts';
import { detectionTimeBound } from '../../src/gossip/timing.ts';
import { type ClusterMember, convergedCluster } from '../helpers/gossip-cluster.ts';

describe('a killed member', () => {
  it('is declared dead by everyone within the expected detection time', async () => {
    const n = 30;
    const cluster = await convergedCluster(n, { seed: 3 });
    await cluster.run(5000, 50);
    const bound = detectionTimeBound(DEFAULT_GOSSIP_SETTINGS, n);
    const killed = new Set<ClusterMember>();
    const detections: number[] = [];
    for (const victimIndex of [7, 19, 23, 4, 12, 28]) {
      const victim = cluster.members[victimIndex]!;
      const survivors = cluster.members.filter((m) => m !== victim && !killed.has(m));
      const killedAt = cluster.clock.now();
      cluster.network.kill(victim.addr);
      killed.add(victim);
      await cluster.run(bound, 50, () => cluster.allSee(survivors, [victim], 'dead'), 50);
      expect(cluster.allSee(survivors, [victim], 'dead'), `${victim.name} dead everywhere within ${bound} ms`).toBe(true);
      detections.push(cluster.clock.now() - killedAt);
      await cluster.run(2000, 50);
    }
    const sorted = [...detections].sort((a, b) => a - b);
    const median = (sorted[2]! + sorted[3]!) / 2;
    console.log(`every survivor lists the killed member dead, n = ${n}: ${detections.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}; median ${(median / 1000).toFixed(1)} s, max ${(sorted[5]! / 1000).toFixed(1)} s (bound ${(bound / 1000).toFixed(1)} s)`);
  }, 60_000);
});
