// The failure detector's answers on the in-memory network and the fake clock: how a healthy
// prober scores a member that is really gone, and what becomes of a member that answers
// every probe, only late.
import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket } from '../../../src/gossip/codec.ts';
import { EMPTY_META, type MemberState } from '../../../src/gossip/messages.ts';
import { convergedCluster, GossipCluster } from '../../helpers/gossip-cluster.ts';

/** A scripted member that joins member 0, then acks every ping `ackAfterMs` late (never, when undefined) and never refutes. */
async function scriptedMember(cluster: GossipCluster, node: string, addr: string, ackAfterMs: number | undefined): Promise<void> {
  const t = cluster.network.transport(addr);
  const self: MemberState = { node, addr, incarnation: 1, status: 'alive', meta: EMPTY_META };
  await t.listen({
    packet: (from, data) => {
      for (const m of decodePacket(data)) {
        if (m.type === 'ping' && ackAfterMs !== undefined) cluster.clock.setTimeout(() => t.sendPacket(from, encodePacket([{ type: 'ack', seqNo: m.seqNo }])), ackAfterMs);
      }
    },
    // It joins, but answers no push-pull: a dead one must not come back through anti-entropy.
    exchange: async () => undefined,
  });
  await cluster.settle(t.exchange(cluster.members[0]!.addr, encodePacket([{ type: 'push-pull', join: true, members: [self] }]), 1000));
}

describe('failure detector', () => {
  it('a healthy prober of a member that is gone keeps its local health score at 0: its helpers nack within its probe', async () => {
    const cluster = await convergedCluster(8, { seed: 21 });
    await cluster.run(5000, 50);
    const victim = cluster.members[5]!;
    const survivors = cluster.members.filter((m) => m !== victim);
    cluster.network.kill(victim.addr);
    await cluster.run(60_000, 20, () => cluster.allSee(survivors, [victim], 'dead'), 100);
    expect(cluster.allSee(survivors, [victim], 'dead')).toBe(true);
    const failedProbes = survivors.reduce((sum, s) => sum + s.metrics.probes.failed, 0);
    expect(failedProbes).toBeGreaterThan(0);
    expect(survivors.map((s) => s.metrics.maxScore)).toEqual(survivors.map(() => 0));
  });

  it('a member that answers every probe, only after the probe gave up, is suspected but never declared dead', async () => {
    // Local health awareness off, so a failed probe does not stretch the next (which alone
    // would let the late answers in): what keeps it listed is the late answers themselves.
    const cluster = new GossipCluster({ seed: 22, settings: { awarenessMaxMultiplier: 1 } });
    const prober = await cluster.add();
    await scriptedMember(cluster, 'late', '10.1.0.1:7946', 1300);
    await scriptedMember(cluster, 'gone', '10.1.0.2:7946', undefined);
    const statuses = new Map<string, Set<string>>([['late', new Set()], ['gone', new Set()]]);
    prober.membership.subscribe(({ member }) => statuses.get(member.node)?.add(member.status));
    await cluster.run(60_000, 50);
    // The silent one shows the detector works here; the late one answered every ping.
    expect(statuses.get('gone')!.has('dead')).toBe(true);
    expect(statuses.get('late')!.has('suspect')).toBe(true);
    expect(statuses.get('late')!.has('dead')).toBe(false);
  });
});
