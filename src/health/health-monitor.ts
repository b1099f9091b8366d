// One local service's active checks: a check every interval on the injected clock, never two
// at once (a check still running when the next is due makes that one skip), fall/rise applied
// to the results, and each change of health reported with the check result that caused it.

import type { Clock, TimerHandle } from '../clock.ts';
import type { HealthCheckConfig } from '../config/types.ts';
import type { ServiceHealth } from '../gossip/messages.ts';
import type { HealthChecker } from './check-result.ts';
import type { HealthMetrics } from './health-metrics.ts';
import { afterCheck, UNDECIDED, type HealthStreak } from './health-state.ts';

export interface HealthTransition {
  readonly service: string;
  readonly previous: ServiceHealth;
  readonly current: ServiceHealth;
  /** The result of the check that tipped it: "HTTP 503", "timeout after 1s", "SERVING". */
  readonly reason: string;
}

export type HealthListener = (transition: HealthTransition) => void;

export interface HealthMonitorDependencies {
  readonly clock: Clock;
  readonly metrics: HealthMetrics;
  readonly onTransition: HealthListener;
}

export class HealthMonitor {
  private streak: HealthStreak = UNDECIDED;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Abandons the running check when the monitor stops, so stopping waits for no timeout. */
  private readonly stopping = new AbortController();

  constructor(
    readonly service: string,
    private readonly config: HealthCheckConfig,
    private readonly checker: HealthChecker,
    private readonly deps: HealthMonitorDependencies,
  ) {}

  get health(): ServiceHealth {
    return this.streak.health;
  }

  /** Checks at once, then every interval. */
  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = this.deps.clock.setInterval(() => this.due(), this.config.interval);
    this.timer.unref();
    this.due();
  }

  /** Resolves once no check is running: what a test awaits after moving the clock. */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** No check starts after this; the one running is abandoned and its result dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.deps.clock.clearInterval(this.timer);
    this.timer = undefined;
    this.stopping.abort();
    await this.running;
    this.checker.close();
  }

  private due(): void {
    if (this.running !== undefined || this.stopped) return;
    this.running = this.checkOnce().finally(() => (this.running = undefined));
  }

  private async checkOnce(): Promise<void> {
    const result = await this.checker.check(this.stopping.signal);
    if (this.stopped) return;
    this.deps.metrics.checkCompleted(this.service, result.outcome);
    const previous = this.streak.health;
    this.streak = afterCheck(this.streak, result.outcome === 'pass', this.config);
    if (this.streak.health !== previous) this.deps.onTransition({ service: this.service, previous, current: this.streak.health, reason: result.reason });
  }
}
