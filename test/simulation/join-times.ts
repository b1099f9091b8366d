// A join timed as the Serf bench times it: a new member of a converged cluster starts
// (its socket bound) and joins through the seed at once; the join has converged when every
// member lists every other alive. One join per seeded cluster, so the runs are independent.
import { convergedCluster } from '../helpers/gossip-cluster.ts';
import { median } from './detection-times.ts';

export async function measureJoin(n: number, seed: number): Promise<number> {
  const cluster = await convergedCluster(n - 1, { seed });
  await cluster.run(10_000, 50);
  const startedAt = cluster.clock.now();
  const newcomer = await cluster.add();
  void newcomer.membership.join([cluster.members[0]!.addr]);
  await cluster.run(30_000, 5, () => cluster.allSee(cluster.members, cluster.members, 'alive'), 5);
  if (!cluster.allSee(cluster.members, cluster.members, 'alive')) throw new Error(`seed ${seed}: the join into ${n - 1} did not converge within 30 s`);
  const ms = cluster.clock.now() - startedAt;
  for (const m of cluster.members) await m.membership.close();
  return ms;
}

export async function joinSummary(n: number, seeds: readonly number[]): Promise<{ n: number; runs: number; medianMs: number; maxMs: number }> {
  const times: number[] = [];
  for (const seed of seeds) times.push(await measureJoin(n, seed));
  return { n, runs: times.length, medianMs: median(times), maxMs: Math.max(...times) };
}
