// When a cluster converged and when its survivors saw a death, from the agents' observations.
// Observations may arrive out of order (Meshlet's are polled, and carry the time each change
// happened), so each question replays them sorted by time.
import type { MemberStatus, Observation } from './cluster.ts';

const byTime = (a: Observation, b: Observation): number => a.at - b.at;

/**
 * Since when (no earlier than `from`) every observer has listed every other member as alive,
 * holding to the last observation; undefined when the last observations do not show it.
 */
export function convergedAt(observations: readonly Observation[], nodes: readonly string[], from: number): number | undefined {
  const wanted = new Set(nodes);
  const pairs = nodes.length * (nodes.length - 1);
  const status = new Map<string, MemberStatus>();
  let alive = 0;
  let at: number | undefined;
  const done = (): boolean => alive === pairs;
  for (const o of [...observations].sort(byTime)) {
    if (!wanted.has(o.observer) || !wanted.has(o.member) || o.observer === o.member) continue;
    const key = `${o.observer}\u0000${o.member}`;
    const before = status.get(key);
    if (before === o.status) continue;
    if (before === 'alive') alive -= 1;
    if (o.status === 'alive') alive += 1;
    status.set(key, o.status);
    if (done() && at === undefined) at = o.at;
    if (!done()) at = undefined;
  }
  if (at === undefined) return undefined;
  return Math.max(at, from);
}

/** Every "observer→member status" of `nodes` the observations leave at anything but alive ("missing": never seen). */
export function missingPairs(observations: readonly Observation[], nodes: readonly string[]): string[] {
  const wanted = new Set(nodes);
  const latest = new Map<string, MemberStatus>();
  for (const o of [...observations].sort(byTime)) {
    if (wanted.has(o.observer) && wanted.has(o.member) && o.observer !== o.member) latest.set(`${o.observer}→${o.member}`, o.status);
  }
  const off: string[] = [];
  for (const observer of nodes) {
    for (const member of nodes) {
      if (observer === member) continue;
      const status = latest.get(`${observer}→${member}`);
      if (status !== 'alive') off.push(`${observer}→${member} ${status ?? 'missing'}`);
    }
  }
  return off;
}

/** When each survivor first saw `victim` dead (or left) at or after `killedAt`; a survivor missing from the map never did. */
export function detectionTimes(observations: readonly Observation[], survivors: readonly string[], victim: string, killedAt: number): Map<string, number> {
  const wanted = new Set(survivors);
  const seen = new Map<string, number>();
  for (const o of [...observations].sort(byTime)) {
    if (o.member !== victim || o.at < killedAt || !wanted.has(o.observer) || seen.has(o.observer)) continue;
    if (o.status === 'dead' || o.status === 'left') seen.set(o.observer, o.at);
  }
  return seen;
}

/** Time from the kill until the last survivor listed the victim dead; undefined while any has not. */
export function detectionMs(observations: readonly Observation[], survivors: readonly string[], victim: string, killedAt: number): number | undefined {
  const seen = detectionTimes(observations, survivors, victim, killedAt);
  if (survivors.some((s) => !seen.has(s))) return undefined;
  return Math.max(...seen.values()) - killedAt;
}

/** The first survivor to suspect `victim` after the kill, and how long after it (undefined: none did, or none was seen to). */
export function firstSuspicion(observations: readonly Observation[], survivors: readonly string[], victim: string, killedAt: number): { observer: string; ms: number } | undefined {
  const wanted = new Set(survivors);
  let first: Observation | undefined;
  for (const o of observations) {
    if (o.member === victim && o.status === 'suspect' && o.at >= killedAt && wanted.has(o.observer) && (!first || o.at < first.at)) first = o;
  }
  return first && { observer: first.observer, ms: first.at - killedAt };
}
