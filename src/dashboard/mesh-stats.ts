// What the control plane serves for the dashboard aggregated over every agent (the job Hystrix
// needed Turbine for), built from the AgentReports and MeshEvents it already holds:
//   GET /api/v1/mesh/stats   MeshStats: { atMs, nodes: [NodeStats per agent] }, each NodeStats
//                            exactly as an agent's own /api/v1/stats (node-stats.ts)
//   GET /api/v1/mesh/events  server-sent events as an agent's /api/v1/events, each decision
//                            carrying the `node` that took it
// The page (pages.ts with source 'mesh', or any page at /dashboard?source=mesh) reads those two.
// The reports are the proto messages as control-proto.ts types them.

import type { AgentReport, BreakerReport, MeshEvent } from '../control/control-proto.ts';
import type { DecisionInput } from '../observability/decisions.ts';
import type { BreakerStateName, BreakerStatus, EndpointStats, NodeStats, UpstreamStats } from '../observability/node-stats.ts';

export interface MeshStats {
  /** Wall-clock ms when the control plane answered. */
  readonly atMs: number;
  readonly nodes: readonly NodeStats[];
}

/** The report windows are the agents' (10 s by default); the proto does not carry it. */
const REPORT_WINDOW_MS = 10_000;

const STATES: Readonly<Record<string, BreakerStateName>> = {
  BREAKER_STATE_CLOSED: 'closed',
  BREAKER_STATE_HALF_OPEN: 'half_open',
  BREAKER_STATE_OPEN: 'open',
};

/** GET /api/v1/mesh/stats: every agent's last report, each as that agent's /api/v1/stats would show it. */
export function meshStats(atMs: number, agents: Iterable<{ readonly node: string; readonly report: AgentReport | null | undefined }>): MeshStats {
  const nodes: NodeStats[] = [];
  for (const { node, report } of agents) if (report) nodes.push(nodeStatsFromReport(node, report));
  return { atMs, nodes };
}

export function nodeStatsFromReport(node: string, report: AgentReport): NodeStats {
  const breakers = new Map(report.breakers.map((b) => [`${b.upstream}\n${b.endpoint}`, b]));
  const upstreams = report.upstreams.map((u): UpstreamStats => ({
    name: u.name,
    requestsPerSecond: u.requestsPerSecond,
    errorPercent: u.errorPercent,
    p50Ms: latency(u.p50Ms, u.requestsPerSecond),
    p99Ms: latency(u.p99Ms, u.requestsPerSecond),
    retries: u.retries,
    fallbacks: u.fallbacks,
    ejections: u.ejections,
    errors: {},
    breaker: breakerStatus(breakers.get(`${u.name}\n`)),
    endpoints: report.endpoints
      .filter((e) => e.upstream === u.name)
      .map((e): EndpointStats => ({
        address: e.address,
        health: e.health || 'unknown',
        breaker: breakerStatus(breakers.get(`${u.name}\n${e.address}`)),
        ejected: e.ejected,
        ejectionReason: e.ejected ? e.ejectionReason : '',
        unreachable: e.unreachable,
        unreachableReason: e.unreachable ? e.unreachableReason : '',
        requestsPerSecond: e.requestsPerSecond,
        errorPercent: e.errorPercent,
        p50Ms: latency(e.p50Ms, e.requestsPerSecond),
        p99Ms: latency(e.p99Ms, e.requestsPerSecond),
      })),
  }));
  return { node, atMs: report.atMs, windowMs: REPORT_WINDOW_MS, upstreams };
}

/**
 * A MeshEvent as the decision the agent took, for the mesh-wide event stream: record it in a
 * DecisionLog and serve that with serveDecisionStream. Undefined for what is no decision
 * (an agent connecting or acking).
 */
export function meshDecision(event: MeshEvent): DecisionInput | undefined {
  const { node } = event;
  if (event.kind === 'breaker') {
    const { breaker } = event;
    const state = STATES[breaker.state] ?? 'closed';
    const kind = state === 'open' ? 'breaker_opened' : state === 'half_open' ? 'breaker_half_open' : 'breaker_closed';
    return { kind, node, scope: breaker.upstream, ...(breaker.endpoint ? { endpoint: breaker.endpoint } : {}), reason: breaker.reason };
  }
  if (event.kind === 'endpoint') {
    const { endpoint } = event;
    const about = { node, scope: endpoint.upstream, endpoint: endpoint.address };
    if (endpoint.ejected) return { kind: 'ejected', ...about, reason: endpoint.ejectionReason };
    if (endpoint.unreachable) return { kind: 'unreachable', ...about, reason: endpoint.unreachableReason };
    // The event carries the endpoint as it is now: whichever of the two ended, it is back.
    return { kind: 'unejected', ...about, reason: 'back in the balancer' };
  }
  return undefined;
}

function breakerStatus(report: BreakerReport | undefined): BreakerStatus | null {
  if (report === undefined) return null;
  return { state: STATES[report.state] ?? 'closed', reason: report.reason, sinceMs: report.sinceMs > 0 ? report.sinceMs : null };
}

/** proto3 has no null: a latency of 0 with no traffic means none was measured. */
function latency(ms: number, rate: number): number | null {
  return rate === 0 && ms === 0 ? null : ms;
}
