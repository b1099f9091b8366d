// A partition into two halves: each half declares the other dead; once the link returns,
// reconnect push-pulls with dead members find the far side and the halves merge again.
import { describe, expect, it } from 'vitest';
import { DEFAULT_GOSSIP_SETTINGS } from '../../src/gossip/settings.ts';
import { convergedCluster } from '../helpers/gossip-cluster.ts';

describe('a partition into two halves', () => {
  it('heals into one membership after the link returns', async () => {
    const cluster = await convergedCluster(20, { seed: 5 });
    const left = cluster.members.slice(0, 10);
    const right = cluster.members.slice(10);
    cluster.network.partition([left.map((m) => m.addr), right.map((m) => m.addr)]);
    await cluster.run(120_000, 50, () => cluster.allSee(left, right, 'dead') && cluster.allSee(right, left, 'dead'), 500);
    expect(cluster.allSee(left, right, 'dead') && cluster.allSee(right, left, 'dead')).toBe(true);
    expect(cluster.allSee(left, left, 'alive') && cluster.allSee(right, right, 'alive')).toBe(true);
    cluster.network.heal();
    const healedAt = cluster.clock.now();
    const within = 3 * DEFAULT_GOSSIP_SETTINGS.reconnectIntervalMs;
    await cluster.run(within, 50, () => cluster.allSee(cluster.members, cluster.members, 'alive'), 200);
    expect(cluster.allSee(cluster.members, cluster.members, 'alive')).toBe(true);
    console.log(`partition of 20 healed into one membership ${((cluster.clock.now() - healedAt) / 1000).toFixed(1)} s after the link returned`);
  }, 60_000);
});
