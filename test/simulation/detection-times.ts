// Failure detection on the fake clock, measured as the Serf bench measures it on real
// processes: one member of a converged cluster is killed (kill -9: no leave, no answers), and
// each survivor's moment of listing it dead is recorded; the detection time is the last of
// them. One kill per seeded cluster, so the runs are independent.
import type { MemberChangeReason } from '../../src/gossip/member.ts';
import type { GossipSettings } from '../../src/gossip/settings.ts';
import { convergedCluster } from '../helpers/gossip-cluster.ts';

export interface DetectionRun {
  readonly seed: number;
  /** From the kill until the first survivor suspects it, lists it dead, and the last does. */
  readonly firstSuspectMs: number;
  readonly firstDeadMs: number;
  readonly allDeadMs: number;
  /** How the first survivor to list it dead came to: its own suspicion running out, or news. */
  readonly firstReason: MemberChangeReason;
  /** The highest local health score among the survivors when the last of them listed it dead. */
  readonly maxAwareness: number;
}

export interface DetectionScenario {
  readonly settings?: Partial<GossipSettings>;
  /**
   * As the bench runs its kills: right after a stretch of load (every member's event loop
   * lagging this much for a minute, then a 10 s grace and everyone listing everyone alive
   * again), while the local health scores the load raised are still coming down.
   */
  readonly lagBeforeMs?: number;
}

export async function measureDetection(n: number, seed: number, scenario: DetectionScenario = {}, limitMs = 120_000): Promise<DetectionRun> {
  const cluster = await convergedCluster(n, { seed, settings: scenario.settings ?? {} });
  await cluster.run(10_000, 50);
  if (scenario.lagBeforeMs) {
    for (const m of cluster.members) cluster.network.slow(m.addr, scenario.lagBeforeMs, (ms) => m.membership.noteEventLoopLag(ms));
    await cluster.run(60_000, 50);
    for (const m of cluster.members) cluster.network.slow(m.addr, 0);
    await cluster.run(10_000, 50);
    await cluster.run(30_000, 50, () => cluster.allSee(cluster.members, cluster.members, 'alive'), 200);
  }
  // Never the seed (m0), as in the bench; which one is the seed's dice.
  const victim = cluster.members[1 + Math.floor(cluster.random() * (n - 1))]!;
  const survivors = cluster.members.filter((m) => m !== victim);
  const killedAt = cluster.clock.now();
  let firstSuspect: number | undefined;
  let firstDead: { at: number; reason: MemberChangeReason } | undefined;
  for (const s of survivors) {
    s.membership.subscribe(({ member }) => {
      if (member.node !== victim.name) return;
      const at = cluster.clock.now() - killedAt;
      if (member.status === 'suspect') firstSuspect ??= at;
      if (member.status === 'dead') firstDead ??= { at, reason: member.reason };
    });
  }
  cluster.network.kill(victim.addr);
  await cluster.run(limitMs, 10, () => cluster.allSee(survivors, [victim], 'dead'), 10);
  const allDeadMs = cluster.clock.now() - killedAt;
  const maxAwareness = Math.max(...survivors.map((s) => s.membership.awarenessScore));
  if (!cluster.allSee(survivors, [victim], 'dead')) throw new Error(`seed ${seed}: ${victim.name} not dead everywhere within ${limitMs} ms`);
  for (const m of cluster.members) await m.membership.close();
  return { seed, firstSuspectMs: firstSuspect ?? NaN, firstDeadMs: firstDead?.at ?? NaN, allDeadMs, firstReason: firstDead?.reason ?? 'joined', maxAwareness };
}

export interface DetectionSummary {
  readonly n: number;
  readonly runs: number;
  readonly medianMs: number;
  readonly maxMs: number;
  readonly firstSuspectMedianMs: number;
  readonly firstDeadMedianMs: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function detectionSummary(n: number, seeds: readonly number[], scenario: DetectionScenario = {}): Promise<{ summary: DetectionSummary; runs: DetectionRun[] }> {
  const runs: DetectionRun[] = [];
  for (const seed of seeds) runs.push(await measureDetection(n, seed, scenario));
  const all = runs.map((r) => r.allDeadMs);
  return {
    runs,
    summary: {
      n,
      runs: runs.length,
      medianMs: median(all),
      maxMs: Math.max(...all),
      firstSuspectMedianMs: median(runs.map((r) => r.firstSuspectMs)),
      firstDeadMedianMs: median(runs.map((r) => r.firstDeadMs)),
    },
  };
}
