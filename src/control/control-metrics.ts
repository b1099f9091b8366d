// The control plane's Prometheus metrics, one registry per process, served on its admin listener.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export type ApplyResult = 'applied' | 'unchanged' | 'invalid' | 'conflict' | 'dry_run' | 'failed';
export type StreamRefusal = 'unauthenticated' | 'permission_denied' | 'no_hello' | 'hello_timeout' | 'too_many_pending' | 'too_many_agents' | 'too_many_watchers' | 'report_too_large' | 'bad_message';

export interface ControlGauges {
  agentsConnected(): number;
  agentsKnown(): number;
  watchers(): number;
  policyVersion(): number;
  /** 1 while this replica leads (serves agents), else 0; without it, 1 (the only replica). */
  leader?(): number;
}

export class ControlMetrics {
  private readonly register = new Registry();
  private readonly applies: Counter<'result'>;
  private readonly refusals: Counter<'reason'>;
  readonly pushes: Counter;
  readonly acks: Counter;
  readonly nacks: Counter;
  readonly reports: Counter;
  readonly watchersDropped: Counter;

  constructor(gauges: ControlGauges) {
    const registers = [this.register];
    collectDefaultMetrics({ register: this.register });
    this.applies = new Counter({ name: 'meshlet_control_applies_total', help: 'ApplyPolicy and Rollback calls by result.', labelNames: ['result'], registers });
    this.refusals = new Counter({ name: 'meshlet_control_refused_total', help: 'Streams and messages refused, by reason.', labelNames: ['reason'], registers });
    this.pushes = new Counter({ name: 'meshlet_control_pushes_total', help: 'Policy snapshots sent to agents.', registers });
    this.acks = new Counter({ name: 'meshlet_control_acks_total', help: 'Snapshots agents acknowledged.', registers });
    this.nacks = new Counter({ name: 'meshlet_control_nacks_total', help: 'Snapshots agents refused (NACK).', registers });
    this.reports = new Counter({ name: 'meshlet_control_reports_total', help: 'Agent reports received.', registers });
    this.watchersDropped = new Counter({ name: 'meshlet_control_watchers_dropped_total', help: 'WatchMesh streams ended for falling behind.', registers });
    const gauge = (name: string, help: string, read: () => number): void => {
      const g: Gauge = new Gauge({ name, help, registers, collect: () => g.set(read()) });
    };
    gauge('meshlet_control_agents_connected', 'Agents with an open Connect stream.', gauges.agentsConnected);
    gauge('meshlet_control_agents', 'Agents the control plane knows, connected or recently gone.', gauges.agentsKnown);
    gauge('meshlet_control_watchers', 'Open WatchMesh streams.', gauges.watchers);
    gauge('meshlet_control_policy_version', 'The current policy version.', gauges.policyVersion);
    gauge('meshlet_control_leader', 'Whether this replica is the leader that serves agents (1) or a follower (0).', gauges.leader ?? (() => 1));
  }

  apply(result: ApplyResult): void {
    this.applies.inc({ result });
  }

  refused(reason: StreamRefusal): void {
    this.refusals.inc({ reason });
  }

  get contentType(): string {
    return this.register.contentType;
  }

  metricsText(): Promise<string> {
    return this.register.metrics();
  }
}
