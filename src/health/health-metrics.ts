// What the health checks count; the agent implements it with prom-client as
// meshlet_health_checks_total{service,result}.

import type { CheckOutcome } from './check-result.ts';

export interface HealthMetrics {
  checkCompleted(service: string, result: CheckOutcome): void;
}
