// The protocol's timing math as pure functions (memberlist's util.go and suspicion.go, the
// Lifeguard paper), so every figure the membership uses can be checked against a table.

/**
 * The least time a suspected member has to refute before it is declared dead: `mult` probe
 * intervals, scaled by log10 of the cluster size so a big cluster gives gossip the extra
 * rounds it needs to reach the suspect.
 */
export function suspicionTimeout(mult: number, n: number, intervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(mult * nodeScale * intervalMs);
}

/** How many times each broadcast is sent: about λ·log(n+1), enough to reach everyone whp. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/**
 * Lifeguard's dynamic suspicion: the timeout starts at `max` and falls on a log curve to `min`
 * as the `k` expected independent confirmations arrive; returns what is left after `elapsed`
 * (negative: it is already due).
 */
export function remainingSuspicionTime(confirmations: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  const fraction = k <= 0 ? 1 : Math.log(confirmations + 1) / Math.log(k + 1);
  const timeout = Math.max(minMs, Math.floor(maxMs - fraction * (maxMs - minMs)));
  return timeout - elapsedMs;
}

/**
 * How many independent confirmations a suspicion waits for to reach its minimum: mult − 2
 * (memberlist), none in a cluster too small to have that many other members.
 */
export function expectedConfirmations(mult: number, n: number): number {
  const k = mult - 2;
  return n - 2 < k ? 0 : Math.max(0, k);
}

/** Clusters up to this size push-pull at the configured interval. */
export const PUSH_PULL_SCALE_THRESHOLD = 32;

/**
 * Push-pull is one full-state exchange per interval per member, so past 32 members the
 * interval grows by one step for each doubling, keeping the cluster's total TCP load flat.
 */
export function pushPullInterval(intervalMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1;
  return multiplier * intervalMs;
}

/** Lifeguard: a member in poor local health (score 0 is healthy) waits (score + 1) times longer. */
export function awarenessScaled(ms: number, score: number): number {
  return ms * (score + 1);
}

export interface DetectionTiming {
  readonly probeIntervalMs: number;
  readonly gossipIntervalMs: number;
  readonly suspicionMultiplier: number;
  readonly suspicionMaxTimeoutMultiplier: number;
  readonly retransmitMultiplier: number;
}

/**
 * An upper bound on the time from a member's death until every healthy member lists it dead:
 * a few probe intervals until some member probes it (each interval a given member is probed
 * with probability about 1 − 1/e), one interval for the direct and indirect probes, the
 * longest suspicion (no confirmations, its last interval spent on a last-chance probe),
 * then the dead message's spread in gossip rounds.
 */
export function detectionTimeBound(t: DetectionTiming, n: number): number {
  const firstProbe = 5 * t.probeIntervalMs;
  const probe = t.probeIntervalMs;
  const suspicion = t.suspicionMaxTimeoutMultiplier * suspicionTimeout(t.suspicionMultiplier, n, t.probeIntervalMs);
  const spread = retransmitLimit(t.retransmitMultiplier, n) * t.gossipIntervalMs;
  return firstProbe + probe + suspicion + spread;
}
