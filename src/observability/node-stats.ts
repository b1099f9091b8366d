// GET /api/v1/stats: what the dashboard shows of one agent, in one document: each upstream's
// and endpoint's recent traffic (traffic-stats.ts) next to its breaker states, health,
// exclusions, and the reason the agent recorded for every open breaker, ejection and
// unreachable endpoint. The control plane serves the same shape per agent
// (src/dashboard/mesh-stats.ts), so one page reads either.

import type { Decision } from './decisions.ts';
import type { TrafficView, UpstreamTraffic } from './traffic-stats.ts';

export type BreakerStateName = 'closed' | 'half_open' | 'open';

export interface BreakerStatus {
  readonly state: BreakerStateName;
  /** Why it is in this state, as the agent recorded it at its last transition; "" before any. */
  readonly reason: string;
  /** Wall-clock ms of that transition; null before any. */
  readonly sinceMs: number | null;
}

export interface EndpointStats {
  readonly address: string;
  /** "healthy" | "unhealthy" | "unknown" */
  readonly health: string;
  /** Its own breaker; null without policy.circuitBreaker. */
  readonly breaker: BreakerStatus | null;
  readonly ejected: boolean;
  /** The reason of its latest ejection while it is ejected, else "". */
  readonly ejectionReason: string;
  /** A connection to it could not be made, and none has been since (proxy/upstream/reachability.ts). */
  readonly unreachable: boolean;
  /** Why, as the agent recorded it, while it is unreachable; else "". */
  readonly unreachableReason: string;
  readonly requestsPerSecond: number;
  readonly errorPercent: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface UpstreamStats {
  readonly name: string;
  readonly requestsPerSecond: number;
  readonly errorPercent: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly retries: number;
  readonly fallbacks: number;
  readonly ejections: number;
  /** Calls the agent answered with an error of its own in the window, by code. */
  readonly errors: Readonly<Record<string, number>>;
  /** The upstream's own (all-down) breaker; null without policy.circuitBreaker. */
  readonly breaker: BreakerStatus | null;
  readonly endpoints: readonly EndpointStats[];
}

export interface NodeStats {
  readonly node: string;
  /** Wall-clock ms when the figures were read. */
  readonly atMs: number;
  /** How far back the traffic figures reach. */
  readonly windowMs: number;
  readonly upstreams: readonly UpstreamStats[];
}

/** What the agent knows of an upstream's breakers and endpoints now (a BreakerView is enough of a breaker). */
export interface UpstreamState {
  readonly name: string;
  readonly breaker: BreakerLike | null;
  readonly endpoints: readonly { readonly address: string; readonly health: string; readonly exclusions: readonly string[]; readonly breaker: BreakerLike | null }[];
}

export interface BreakerLike {
  readonly state: BreakerStateName;
  readonly lastTransition: { readonly at: string; readonly reason: string } | null;
}

export interface NodeStatsInput {
  readonly node: string;
  readonly atMs: number;
  readonly traffic: TrafficView;
  readonly states: readonly UpstreamState[];
  /** The decision log's recent entries, oldest first: where ejection and unreachable reasons are read. */
  readonly decisions: readonly Decision[];
}

export function nodeStats({ node, atMs, traffic, states, decisions }: NodeStatsInput): NodeStats {
  const ejections = new Map<string, string>();
  const unreachable = new Map<string, string>();
  for (const d of decisions) {
    if (d.endpoint === undefined) continue;
    if (d.kind === 'ejected') ejections.set(`${d.scope}\n${d.endpoint}`, d.reason);
    else if (d.kind === 'unreachable') unreachable.set(`${d.scope}\n${d.endpoint}`, d.reason);
  }
  const byName = new Map(states.map((s) => [s.name, s]));
  const upstreams = traffic.upstreams.map((t): UpstreamStats => {
    const state = byName.get(t.name);
    const endpointStates = new Map(state?.endpoints.map((e) => [e.address, e]));
    return {
      ...figuresOf(t),
      retries: t.retries,
      fallbacks: t.fallbacks,
      ejections: t.ejections,
      errors: t.errors,
      breaker: breakerStatus(state?.breaker ?? null),
      endpoints: t.endpoints.map((e): EndpointStats => {
        const s = endpointStates.get(e.address);
        const ejected = s?.exclusions.includes('ejected') ?? false;
        const cannotConnect = s?.exclusions.includes('unreachable') ?? false;
        return {
          address: e.address,
          health: s?.health ?? 'unknown',
          breaker: breakerStatus(s?.breaker ?? null),
          ejected,
          ejectionReason: ejected ? (ejections.get(`${t.name}\n${e.address}`) ?? '') : '',
          unreachable: cannotConnect,
          unreachableReason: cannotConnect ? (unreachable.get(`${t.name}\n${e.address}`) ?? '') : '',
          requestsPerSecond: e.requestsPerSecond,
          errorPercent: e.errorPercent,
          p50Ms: e.p50Ms,
          p99Ms: e.p99Ms,
        };
      }),
    };
  });
  return { node, atMs, windowMs: traffic.windowMs, upstreams };
}

function figuresOf(t: UpstreamTraffic): Pick<UpstreamStats, 'name' | 'requestsPerSecond' | 'errorPercent' | 'p50Ms' | 'p99Ms'> {
  return { name: t.name, requestsPerSecond: t.requestsPerSecond, errorPercent: t.errorPercent, p50Ms: t.p50Ms, p99Ms: t.p99Ms };
}

function breakerStatus(breaker: BreakerLike | null): BreakerStatus | null {
  if (breaker === null) return null;
  const last = breaker.lastTransition;
  return { state: breaker.state, reason: last?.reason ?? '', sinceMs: last === null ? null : Date.parse(last.at) };
}
