// What an agent tells the control plane about itself: every breaker with the reason of its last
// transition, every endpoint with its health and any ejection and why, per upstream and endpoint
// the request rate, error percentage and p50/p99 of the last 10 s (traffic-stats.ts), and per
// upstream the retries, fallbacks and ejections since the agent started. Built from the agent's own views on demand; the one
// thing kept here is each ejected or unreachable endpoint's reason, heard on the decision log
// (bounded: an entry goes when its ejection ends, it is reachable again, or its endpoint or
// upstream leaves).
import type { AgentReport, BreakerReport, BreakerState as ReportedState, EndpointReport, UpstreamReport } from '../control/control-proto.ts';
import type { Decision, DecisionLog } from '../observability/decisions.ts';
import type { MeshletMetrics } from '../observability/metrics.ts';
import type { TrafficFigures, TrafficStats, TrafficView } from '../observability/traffic-stats.ts';
import type { Upstream } from '../proxy/upstream/upstream.ts';
import type { BreakerState, BreakerView } from '../resilience/circuit-breaker.ts';

const STATES: Readonly<Record<BreakerState, ReportedState>> = {
  closed: 'BREAKER_STATE_CLOSED',
  half_open: 'BREAKER_STATE_HALF_OPEN',
  open: 'BREAKER_STATE_OPEN',
};

/** Decisions that change what a report says of breakers or ejections: each sends a report at once. */
export const REPORTED_DECISIONS: ReadonlySet<Decision['kind']> = new Set(['breaker_opened', 'breaker_half_open', 'breaker_closed', 'breaker_forced', 'ejected', 'unejected', 'unreachable', 'reachable']);

export interface ReportSource {
  readonly decisions: DecisionLog;
  readonly metrics: MeshletMetrics;
  /** The upstreams in force now. */
  upstreams(): Iterable<Upstream>;
  /** The agent's recent traffic (the dashboard reads the same). */
  readonly traffic: Pick<TrafficStats, 'read'>;
}

/** Rates and latencies as a report carries them: 0 where nothing was measured. */
function traffic(figures: TrafficFigures | undefined): Pick<EndpointReport, 'requestsPerSecond' | 'errorPercent' | 'p50Ms' | 'p99Ms'> {
  return { requestsPerSecond: figures?.requestsPerSecond ?? 0, errorPercent: figures?.errorPercent ?? 0, p50Ms: figures?.p50Ms ?? 0, p99Ms: figures?.p99Ms ?? 0 };
}

export class ControlReports {
  /** "upstream\nendpoint" → why it was ejected. */
  private readonly ejections = new Map<string, string>();
  /** "upstream\nendpoint" → why it is unreachable. */
  private readonly unreachable = new Map<string, string>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly source: ReportSource,
    /** Wall-clock ms since the epoch, for `atMs`. */
    private readonly wallNow: () => number,
  ) {
    this.unsubscribe = source.decisions.subscribe((decision) => {
      if (decision.endpoint === undefined) return;
      const key = `${decision.scope}\n${decision.endpoint}`;
      if (decision.kind === 'ejected') this.ejections.set(key, decision.reason);
      else if (decision.kind === 'unejected') this.ejections.delete(key);
      else if (decision.kind === 'unreachable') this.unreachable.set(key, decision.reason);
      else if (decision.kind === 'reachable') this.unreachable.delete(key);
    });
  }

  close(): void {
    this.unsubscribe();
  }

  build(): AgentReport {
    const recent: TrafficView = this.source.traffic.read();
    const breakers: BreakerReport[] = [];
    const endpoints: EndpointReport[] = [];
    const upstreams: UpstreamReport[] = [];
    const live = new Set<string>();
    const figures = new Map(recent.upstreams.map((u) => [u.name, u]));
    for (const upstream of this.source.upstreams()) {
      const view = upstream.describe();
      const seen = figures.get(view.name);
      const breakerView = upstream.describeBreakers();
      if (breakerView?.breaker) breakers.push(breakerReport(view.name, '', breakerView.breaker));
      for (const endpoint of breakerView?.endpoints ?? []) {
        if ('state' in endpoint) breakers.push(breakerReport(view.name, endpoint.address, endpoint));
      }
      for (const endpoint of view.endpoints) {
        const key = `${view.name}\n${endpoint.address}`;
        live.add(key);
        const ejected = endpoint.excluded.includes('ejected');
        const cannotConnect = endpoint.excluded.includes('unreachable');
        endpoints.push({
          upstream: view.name,
          address: endpoint.address,
          health: endpoint.health,
          ejected,
          ejectionReason: ejected ? (this.ejections.get(key) ?? '') : '',
          ...traffic(seen?.endpoints.find((e) => e.address === endpoint.address)),
          // The server names the node where it lists many agents' endpoints.
          node: '',
          unreachable: cannotConnect,
          unreachableReason: cannotConnect ? (this.unreachable.get(key) ?? '') : '',
        });
      }
      // Counters since the agent started, as Prometheus counters are: the control plane takes differences.
      const counters = this.source.metrics.bindUpstream(view.name);
      upstreams.push({ name: view.name, ...traffic(seen), retries: counters.retriesTotal(), fallbacks: counters.fallbacksTotal(), ejections: counters.ejectionsTotal() });
    }
    for (const reasons of [this.ejections, this.unreachable]) for (const key of reasons.keys()) if (!live.has(key)) reasons.delete(key);
    return { atMs: this.wallNow(), breakers, endpoints, upstreams };
  }
}

function breakerReport(upstream: string, endpoint: string, view: BreakerView): BreakerReport {
  const last = view.lastTransition;
  return { upstream, endpoint, state: STATES[view.state], reason: last?.reason ?? '', sinceMs: last ? Date.parse(last.at) : 0, node: '' };
}
