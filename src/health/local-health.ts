// The health of every local service (config.services): a monitor for each one with a health
// block; one without is 'unknown' for as long as it runs, since nothing checks it.

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

export class LocalHealth {
  private readonly monitors = new Map<string, HealthMonitor>();
  private readonly listeners = new Set<HealthListener>();

  constructor(services: readonly ServiceConfig[], deps: LocalHealthDependencies) {
    const onTransition: HealthListener = (transition) => {
      for (const listener of this.listeners) listener(transition);
    };
    for (const service of services) {
      if (service.health === undefined) continue;
      const checker = createChecker(service.target, service.health, deps.clock);
      this.monitors.set(service.name, new HealthMonitor(service.name, service.health, checker, { ...deps, onTransition }));
    }
  }

  start(): void {
    for (const monitor of this.monitors.values()) monitor.start();
  }

  health(service: string): ServiceHealth {
    return this.monitors.get(service)?.health ?? 'unknown';
  }

  /** Called on every change of a service's health; returns the unsubscribe. */
  subscribe(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once no service's check is running. */
  async idle(): Promise<void> {
    await Promise.all([...this.monitors.values()].map((m) => m.idle()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.monitors.values()].map((m) => m.stop()));
  }
}
