// Outlier detection for one upstream, as Envoy's: an endpoint is ejected (taken out of the
// picker's eligible set, exclusion.ts) after consecutiveFailures failures in a row, at once, or
// when its success rate over an interval falls well below its peers' (success-rate.ts), judged
// by a sweep every interval on the injected clock. Each ejection lasts baseEjectionTime × the
// times it was ejected recently, up to maxEjectionTime; the sweep ends it, and once the endpoint
// has behaved for baseEjectionTime after it, each interval takes one off that count. No more than
// maxEjectionPercent of the endpoints are ejected at once, but one always may be.
// Fed by the one classified Outcome of each attempt (Upstream.observe).

import type { Clock, TimerHandle } from '../clock.ts';
import type { OutlierDetectionConfig } from '../config/types.ts';
import type { DecisionLog } from '../observability/decisions.ts';
import type { EjectionReason, UpstreamMetrics } from '../observability/metrics.ts';
import { errorCodeFor, type Outcome } from '../proxy/call/outcome.ts';
import type { EndpointState } from '../proxy/upstream/endpoint-state.ts';
import type { Exclusion } from '../proxy/upstream/exclusion.ts';
import { successRateOutliers } from './success-rate.ts';

/** What the detector needs of its upstream. */
export interface OutlierHost {
  readonly name: string;
  endpointStates(): Iterable<EndpointState>;
  setExcluded(endpoint: EndpointState, exclusion: Exclusion, on: boolean): void;
}

export interface OutlierDependencies {
  readonly clock: Clock;
  readonly decisions: DecisionLog;
  readonly metrics: UpstreamMetrics;
}

export class OutlierDetector {
  private config: OutlierDetectionConfig | undefined;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly host: OutlierHost,
    private readonly deps: OutlierDependencies,
  ) {}

  /** The policy in force (undefined: detection off, every ejection ends); restarts the sweep when its interval changed. */
  configure(config: OutlierDetectionConfig | undefined): void {
    const previous = this.config;
    this.config = config;
    if (config !== undefined && previous?.interval === config.interval) return;
    this.stopSweep();
    if (config === undefined) {
      if (previous !== undefined) this.unejectAll('outlier detection was turned off');
      return;
    }
    this.timer = this.deps.clock.setInterval(() => this.sweep(), config.interval);
    this.timer.unref();
  }

  /** The upstream left the config. */
  close(): void {
    this.stopSweep();
    this.config = undefined;
  }

  /** How an attempt to `endpoint` ended. On every call: a few additions, and an ejection when a run of failures is long enough. */
  observe(endpoint: EndpointState, outcome: Outcome, config: OutlierDetectionConfig): void {
    const record = endpoint.outlier;
    if (outcome.failed) {
      record.failures++;
      if (++record.consecutiveFailures >= config.consecutiveFailures && record.ejectedUntil === undefined) {
        this.ejectForConsecutive(endpoint, outcome, config);
      }
    } else if (outcome.latencyMs !== undefined) {
      // An outcome with no latency (cancelled, never sent) says nothing of the endpoint.
      record.successes++;
      record.consecutiveFailures = 0;
    }
  }

  /** Ends the ejections that are over, ejects success-rate outliers, and starts the next interval. */
  sweep(): void {
    const config = this.config;
    if (config === undefined) return;
    const now = this.deps.clock.now();
    const states = [...this.host.endpointStates()];
    for (const state of states) {
      const record = state.outlier;
      if (record.ejectedUntil === undefined) {
        // As Envoy: one back the moment it returns would forgive a host that fails again at once.
        if (record.multiplier > 0 && now - record.unejectedAt >= config.baseEjectionTime) record.multiplier--;
      } else if (now >= record.ejectedUntil) {
        this.uneject(state, `its ${seconds(record.ejectedFor)} ejection is over (ejected ${record.ejections} ${record.ejections === 1 ? 'time' : 'times'}; a next one would last ${seconds(ejectionTime(record.multiplier + 1, config))})`);
      }
    }
    const outliers = successRateOutliers(
      states.map((s) => s.outlier),
      config.successRate,
    );
    for (const outlier of outliers) {
      const state = states[outlier.index]!;
      if (state.outlier.ejectedUntil !== undefined) continue;
      this.eject(
        state,
        'success_rate',
        config,
        (ejection) =>
          `${ejection}: success rate ${outlier.rate.toFixed(1)} % of ${outlier.calls} calls in ${seconds(config.interval)}, below ${outlier.threshold.toFixed(1)} % (peers ${formatNumber(outlier.peerMean)} %)`,
        { rate: round(outlier.rate), calls: outlier.calls, threshold: round(outlier.threshold), peerMean: round(outlier.peerMean) },
      );
    }
    for (const state of states) state.outlier.resetInterval();
  }

  private ejectForConsecutive(endpoint: EndpointState, outcome: Outcome, config: OutlierDetectionConfig): void {
    const last = outcome.reason !== undefined ? (errorCodeFor(outcome.reason) ?? outcome.reason) : (outcome.grpcStatus !== undefined && outcome.grpcStatus !== 0 ? `grpc-status ${outcome.grpcStatus}` : `HTTP ${outcome.status}`);
    const run = endpoint.outlier.consecutiveFailures;
    this.eject(endpoint, 'consecutive', config, (ejection) => `${ejection}: ${run} failures in a row (consecutiveFailures ${config.consecutiveFailures}), the last ${last}`, {
      consecutiveFailures: run,
      last,
    });
  }

  private eject(
    endpoint: EndpointState,
    reason: EjectionReason,
    config: OutlierDetectionConfig,
    explain: (ejection: string) => string,
    data: Readonly<Record<string, number | string>>,
  ): void {
    const { ejected, total } = this.ejectedCount();
    // Never more than maxEjectionPercent of the endpoints, but one always may be (as Envoy).
    if (ejected > 0 && (ejected + 1) * 100 > config.maxEjectionPercent * total) return;
    const record = endpoint.outlier;
    record.multiplier++;
    record.ejections++;
    record.ejectedFor = ejectionTime(record.multiplier, config);
    record.ejectedUntil = this.deps.clock.now() + record.ejectedFor;
    record.consecutiveFailures = 0;
    this.deps.metrics.ejection(reason);
    this.host.setExcluded(endpoint, 'ejected', true);
    this.deps.decisions.record({
      kind: 'ejected',
      scope: this.host.name,
      endpoint: endpoint.address,
      reason: explain(`ejected for ${seconds(record.ejectedFor)} (${ordinal(record.ejections)} time)`),
      data: { reason, ejectionMs: record.ejectedFor, ejections: record.ejections, ...data },
    });
  }

  private uneject(endpoint: EndpointState, why: string): void {
    const record = endpoint.outlier;
    record.ejectedUntil = undefined;
    record.unejectedAt = this.deps.clock.now();
    record.consecutiveFailures = 0;
    record.resetInterval();
    this.host.setExcluded(endpoint, 'ejected', false);
    this.deps.decisions.record({ kind: 'unejected', scope: this.host.name, endpoint: endpoint.address, reason: `unejected: ${why}`, data: { ejections: record.ejections } });
  }

  private unejectAll(why: string): void {
    for (const state of [...this.host.endpointStates()]) {
      if (state.outlier.ejectedUntil !== undefined) this.uneject(state, why);
      state.outlier.multiplier = 0;
    }
  }

  private ejectedCount(): { ejected: number; total: number } {
    let ejected = 0;
    let total = 0;
    for (const state of this.host.endpointStates()) {
      total++;
      if (state.outlier.ejectedUntil !== undefined) ejected++;
    }
    return { ejected, total };
  }

  private stopSweep(): void {
    if (this.timer !== undefined) this.deps.clock.clearInterval(this.timer);
    this.timer = undefined;
  }
}

function ejectionTime(multiplier: number, config: OutlierDetectionConfig): number {
  return Math.min(config.baseEjectionTime * multiplier, config.maxEjectionTime);
}

function seconds(ms: number): string {
  return `${formatNumber(ms / 1000)} s`;
}

/** At most one decimal, none when whole: 30, 1.5, 81.3. */
function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}
