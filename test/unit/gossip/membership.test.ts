// The membership's state machine on the in-memory network and the fake clock: what every
// other member ends up listing after refutation, lossy links, leaves, restarts and meta changes.
import { describe, expect, it } from 'vitest';
import { decodePacket as decode, encodePacket } from '../../../src/gossip/codec.ts';
import type { MemberChange } from '../../../src/gossip/member.ts';
import { EMPTY_META, type GossipMessage, type MemberState } from '../../../src/gossip/messages.ts';
import { convergedCluster, GossipCluster } from '../../helpers/gossip-cluster.ts';

function record(cluster: GossipCluster): MemberChange[] {
  const changes: MemberChange[] = [];
  for (const m of cluster.members) m.membership.subscribe((c) => changes.push(c));
  return changes;
}

describe('Membership', () => {
  it('a suspected member refutes with a higher incarnation and everyone lists it alive again', async () => {
    const cluster = await convergedCluster(5, { seed: 1 });
    const changes = record(cluster);
    const [target, ...others] = cluster.members;
    const before = target!.membership.currentIncarnation;
    cluster.network.partition([[target!.addr]]);
    await cluster.run(20_000, 20, () => others.some((o) => o.membership.member(target!.name)?.status === 'suspect'), 20);
    expect(changes.some((c) => c.member.node === target!.name && c.member.status === 'suspect')).toBe(true);
    cluster.network.heal();
    await cluster.run(10_000, 20, () => cluster.allSee(others, [target!], 'alive'), 100);
    expect(target!.membership.currentIncarnation).toBeGreaterThan(before);
    for (const o of others) {
      const seen = o.membership.member(target!.name)!;
      expect(seen.status).toBe('alive');
      expect(seen.incarnation).toBe(target!.membership.currentIncarnation);
    }
    expect(changes.some((c) => c.member.node === target!.name && c.member.reason === 'refuted')).toBe(true);
    expect(changes.some((c) => c.member.status === 'dead')).toBe(false);
  });

  it('an indirect probe keeps a member alive whose direct link to the prober loses every packet', async () => {
    const cluster = await convergedCluster(5, { seed: 2 });
    const changes = record(cluster);
    const [prober, target] = cluster.members;
    cluster.network.setLinkLoss(prober!.addr, target!.addr, 1);
    await cluster.run(60_000, 50);
    expect(prober!.metrics.probes['indirect-ack']).toBeGreaterThan(3);
    expect(changes.filter((c) => c.member.node === target!.name && c.member.status !== 'alive')).toEqual([]);
    expect(prober!.membership.member(target!.name)?.status).toBe('alive');
  });

  it('a failed probe whose helpers nack leaves the prober healthier than one whose helpers stay silent', async () => {
    async function scoreAfterProbingADeadMember(helpersNack: boolean): Promise<number> {
      const cluster = new GossipCluster({ seed: 3 });
      const prober = await cluster.add({ suspicionMultiplier: 1000 });
      // Scripted peers: three helpers that ack pings and (maybe) nack ping-reqs, one silent target.
      const peers = ['h1', 'h2', 'h3', 'gone'].map((node, i) => ({ node, addr: `10.1.0.${i + 1}:7946` }));
      for (const peer of peers.slice(0, 3)) {
        const t = cluster.network.transport(peer.addr);
        await t.listen({
          packet: (from, data) => {
            for (const m of decode(data)) {
              if (m.type === 'ping') t.sendPacket(from, encodePacket([{ type: 'ack', seqNo: m.seqNo }]));
              if (m.type === 'ping-req' && helpersNack) cluster.clock.setTimeout(() => t.sendPacket(from, encodePacket([{ type: 'nack', seqNo: m.seqNo }])), 300);
            }
          },
          exchange: async () => encodePacket([{ type: 'push-pull', join: false, members: peers.map((p): MemberState => ({ ...p, incarnation: 1, status: 'alive', meta: EMPTY_META })) }]),
        });
      }
      cluster.network.transport(peers[3]!.addr);
      await cluster.settle(prober.membership.join([peers[0]!.addr]));
      await cluster.run(8000, 20);
      return prober.metrics.maxScore;
    }
    const withNacks = await scoreAfterProbingADeadMember(true);
    const silent = await scoreAfterProbingADeadMember(false);
    expect(withNacks).toBe(0);
    expect(silent).toBeGreaterThanOrEqual(3);
  });

  it('a member that leaves is listed as left, never suspected or dead', async () => {
    const cluster = await convergedCluster(6, { seed: 4 });
    const changes = record(cluster);
    const leaver = cluster.members[2]!;
    const others = cluster.members.filter((m) => m !== leaver);
    await cluster.settle(leaver.membership.leave(), 10_000);
    await leaver.membership.close();
    await cluster.run(20_000, 50);
    expect(cluster.allSee(others, [leaver], 'left')).toBe(true);
    const about = changes.filter((c) => c.member.node === leaver.name);
    expect(about.map((c) => c.member.status).every((s) => s === 'left')).toBe(true);
    expect(about[0]!.member.reason).toBe('left');
  });

  it('forgets a dead member after the reclaim time; restarted, it rejoins with a higher incarnation', async () => {
    const reclaimTimeMs = 60_000;
    const cluster = await convergedCluster(5, { seed: 5, settings: { reclaimTimeMs } });
    const victim = cluster.members[4]!;
    const others = cluster.members.slice(0, 4);
    cluster.network.kill(victim.addr);
    await cluster.run(60_000, 50, () => cluster.allSee(others, [victim], 'dead'), 100);
    expect(cluster.allSee(others, [victim], 'dead')).toBe(true);
    const deadAt = others[0]!.membership.member(victim.name)!;

    // Restarted before the reclaim: at incarnation 0 it is told it is dead, and outbids that.
    const restarted = await cluster.restart(victim);
    await cluster.settle(restarted.membership.join([others[0]!.addr]));
    await cluster.run(20_000, 50, () => cluster.allSee(others, [restarted], 'alive'), 100);
    expect(cluster.allSee(others, [restarted], 'alive')).toBe(true);
    expect(others[1]!.membership.member(victim.name)!.incarnation).toBeGreaterThan(deadAt.incarnation);

    // Killed again and left dead past the reclaim time: forgotten everywhere.
    cluster.network.kill(restarted.addr);
    await cluster.run(60_000, 50, () => cluster.allSee(others, [restarted], 'dead'), 100);
    await cluster.run(reclaimTimeMs + 10_000, 100);
    for (const o of others) expect(o.membership.member(victim.name)).toBeUndefined();
  });

  it('setMeta reaches every member with a higher incarnation', async () => {
    const cluster = await convergedCluster(8, { seed: 6 });
    const changes = record(cluster);
    const m = cluster.members[3]!;
    const meta = { ...EMPTY_META, draining: true, version: '1.2.3' };
    m.membership.setMeta(meta);
    await cluster.run(5000, 20, () => cluster.members.every((o) => o === m || o.membership.member(m.name)?.meta.draining === true), 100);
    for (const o of cluster.members) {
      if (o === m) continue;
      expect(o.membership.member(m.name)).toMatchObject({ status: 'alive', meta, incarnation: m.membership.currentIncarnation, reason: 'updated' });
    }
    expect(changes.filter((c) => c.member.node === m.name)).toHaveLength(7);
  });

  it('setMeta resolves once the update has gone out in gossip rounds, and at once with nobody to hear it', async () => {
    const cluster = await convergedCluster(8, { seed: 6 });
    const m = cluster.members[3]!;
    const heard = (): number => cluster.members.filter((o) => o !== m && o.membership.member(m.name)?.meta.draining === true).length;
    let sent = false;
    void m.membership.setMeta({ ...EMPTY_META, draining: true }).then(() => (sent = true));
    await Promise.resolve();
    expect(sent).toBe(false);
    const startedAt = cluster.clock.now();
    const sentAt = await cluster.run(5000, 10, () => sent);
    expect(sent).toBe(true);
    // Not at once: only as the probes and gossip rounds that carried it went out.
    expect(sentAt - startedAt).toBeGreaterThan(50);
    // Sent its retransmit limit's times: more than one peer has it from this member alone.
    expect(heard()).toBeGreaterThan(1);

    const alone = new GossipCluster({ seed: 6 });
    const lone = await alone.add();
    let loneSent = false;
    void lone.membership.setMeta({ ...EMPTY_META, draining: true }).then(() => (loneSent = true));
    await Promise.resolve();
    expect(loneSent).toBe(true);
  });

  it('ignores garbage, news about unknown members and stale incarnations, and caps the member map', async () => {
    const cluster = new GossipCluster({ seed: 7 });
    const target = await cluster.add({ maxMembers: 3 });
    const sender = cluster.network.transport('10.9.9.9:1');
    const send = (messages: GossipMessage[]) => sender.sendPacket(target.addr, encodePacket(messages));
    sender.sendPacket(target.addr, Buffer.from('not a packet'));
    send([{ type: 'suspect', node: 'ghost', incarnation: 9, from: 'x' }, { type: 'dead', node: 'ghost2', incarnation: 9, from: 'x' }]);
    const alive = (node: string, incarnation: number): GossipMessage => ({ type: 'alive', node, incarnation, addr: '10.9.9.9:7946', meta: EMPTY_META });
    send([alive('a', 5), alive('b', 1), alive('c', 1), alive('d', 1)]);
    send([{ type: 'suspect', node: 'a', incarnation: 4, from: 'x' }, alive('a', 3)]);
    await cluster.run(100, 10);
    expect(target.metrics.drops.get('decode')).toBe(1);
    expect(target.metrics.drops.get('member-cap')).toBe(1);
    expect([...target.membership.members()].map((m) => `${m.node}:${m.status}:${m.incarnation}`).sort()).toEqual(['a:alive:5', 'b:alive:1', 'c:alive:1']);
  });

  it('join retries with a doubling backoff, and gives up when closed', async () => {
    const cluster = new GossipCluster({ seed: 8 });
    const lonely = await cluster.add({ exchangeTimeoutMs: 1000, joinBackoffMs: 1000, joinRetries: 3 });
    cluster.network.transport('10.9.9.9:7946');
    cluster.network.kill('10.9.9.9:7946');
    const failed = cluster.settle(lonely.membership.join(['10.9.9.9:7946'])).catch((err: Error) => err.message);
    // Four attempts of 1 s each, with 1, 2 and 4 s between them.
    expect(await failed).toBe('could not join any of 10.9.9.9:7946 after 4 attempts');
    expect(cluster.network.counters(lonely.addr).exchanges).toBe(4);
    expect(cluster.clock.now()).toBeGreaterThanOrEqual(11_000);

    const retrying = lonely.membership.join(['10.9.9.9:7946']);
    await cluster.run(1500, 10);
    await lonely.membership.close();
    expect(await retrying).toBe(0);
  });
});
