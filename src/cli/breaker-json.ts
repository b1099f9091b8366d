// Breakers and ejected or unreachable endpoints as status, breakers and breakers --watch print
// them, in text and in JSON, so the three agree on names and shapes.
import type { BreakerReport, EndpointReport } from '../control/control-proto.ts';
import { breakerStateName, isoTime } from './control-output.ts';

export interface BreakerJson {
  readonly node: string;
  readonly upstream: string;
  /** null for the upstream's own breaker (all its endpoints). */
  readonly endpoint: string | null;
  readonly state: 'closed' | 'half-open' | 'open';
  readonly reason: string;
  readonly sinceMs: number;
  readonly since: string | null;
}

export function breakerJson(breaker: BreakerReport, node: string): BreakerJson {
  return {
    node,
    upstream: breaker.upstream,
    endpoint: breaker.endpoint === '' ? null : breaker.endpoint,
    state: breakerStateName(breaker.state),
    reason: breaker.reason,
    sinceMs: breaker.sinceMs,
    since: isoTime(breaker.sinceMs),
  };
}

export function endpointJson(endpoint: EndpointReport): object {
  return {
    node: endpoint.node,
    upstream: endpoint.upstream,
    address: endpoint.address,
    health: endpoint.health,
    ejected: endpoint.ejected,
    ejectionReason: endpoint.ejectionReason,
    unreachable: endpoint.unreachable,
    unreachableReason: endpoint.unreachableReason,
  };
}

/** "payments 127.0.0.1:9001", or "payments (all endpoints)" for the upstream's own breaker. */
export function breakerTarget(breaker: BreakerReport): string {
  return breaker.endpoint === '' ? `${breaker.upstream} (all endpoints)` : `${breaker.upstream} ${breaker.endpoint}`;
}
