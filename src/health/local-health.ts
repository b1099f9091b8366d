// The health of every local service (config.services): a monitor for each one with a health
// block; one without is 'unknown' for as long as it runs, since nothing checks it. A reload
// keeps the monitor (and its fall/rise count) of every service whose target and check stay.

import type { Clock } from '../clock.ts';
import type { ServiceConfig } from '../config/types.ts';
import type { ServiceHealth } from '../gossip/messages.ts';
import { createChecker } from './create-checker.ts';
import type { HealthMetrics } from './health-metrics.ts';
import { HealthMonitor, type HealthListener } from './health-monitor.ts';

export interface LocalHealthDependencies {
  readonly clock: Clock;
  readonly metrics: HealthMetrics;
}

interface Running {
  readonly monitor: HealthMonitor;
  /** The target and health block it checks, as text. */
  readonly check: string;
}

export class LocalHealth {
  private monitors = new Map<string, Running>();
  private readonly listeners = new Set<HealthListener>();
  private started = false;
  private readonly onTransition: HealthListener = (transition) => {
    for (const listener of this.listeners) listener(transition);
  };

  constructor(
    services: readonly ServiceConfig[],
    private readonly deps: LocalHealthDependencies,
  ) {
    this.monitors = this.monitorsFor(services);
  }

  start(): void {
    this.started = true;
    for (const { monitor } of this.monitors.values()) monitor.start();
  }

  health(service: string): ServiceHealth {
    return this.monitors.get(service)?.monitor.health ?? 'unknown';
  }

  /** Called on every change of a service's health; returns the unsubscribe. */
  subscribe(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The services of a new config. A service whose check is new or changed starts again from
   * 'unknown' and checks at once; one whose check went away is reported 'unknown'. Resolves
   * once the monitors no longer needed have stopped.
   */
  async update(services: readonly ServiceConfig[]): Promise<void> {
    const previous = this.monitors;
    this.monitors = this.monitorsFor(services, previous);
    const retired = [...previous].filter(([name, running]) => this.monitors.get(name) !== running);
    for (const [name, { monitor }] of retired) {
      if (monitor.health !== 'unknown') this.onTransition({ service: name, previous: monitor.health, current: 'unknown', reason: this.monitors.has(name) ? 'health check changed' : 'health check removed' });
    }
    if (this.started) for (const { monitor } of this.monitors.values()) monitor.start();
    await Promise.all(retired.map(([, { monitor }]) => monitor.stop()));
  }

  /** Resolves once no service's check is running. */
  async idle(): Promise<void> {
    await Promise.all([...this.monitors.values()].map(({ monitor }) => monitor.idle()));
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.monitors.values()].map(({ monitor }) => monitor.stop()));
  }

  private monitorsFor(services: readonly ServiceConfig[], keep?: ReadonlyMap<string, Running>): Map<string, Running> {
    const monitors = new Map<string, Running>();
    for (const service of services) {
      if (service.health === undefined) continue;
      const check = JSON.stringify([service.target, service.health]);
      const running = keep?.get(service.name);
      if (running?.check === check) {
        monitors.set(service.name, running);
        continue;
      }
      const checker = createChecker(service.target, service.health, this.deps.clock);
      const monitor = new HealthMonitor(service.name, service.health, checker, { ...this.deps, onTransition: this.onTransition });
      monitors.set(service.name, { monitor, check });
    }
    return monitors;
  }
}
