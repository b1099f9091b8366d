// Turns an agent's new report into the mesh events WatchMesh sends: a breaker whose state
// changed, an endpoint ejected or let back, found unreachable or reachable again, an endpoint
// whose health changed. Against no earlier report, only what is not normal (a breaker not
// closed, an endpoint ejected, unreachable or unhealthy) is news, so a fresh agent does not
// flood the watchers with "all is well".
import type { AgentReport, BreakerReport, EndpointReport, MeshEvent } from './control-proto.ts';

export function reportChanges(node: string, previous: AgentReport | null, next: AgentReport, atMs: number): MeshEvent[] {
  const events: MeshEvent[] = [];
  const breakers = new Map<string, BreakerReport>();
  for (const b of previous?.breakers ?? []) breakers.set(breakerKey(b), b);
  for (const breaker of next.breakers) {
    const before = breakers.get(breakerKey(breaker));
    const changed = before === undefined ? breaker.state !== 'BREAKER_STATE_CLOSED' : before.state !== breaker.state;
    if (changed) events.push({ atMs, node, kind: 'breaker', breaker: { ...breaker, node } });
  }
  const endpoints = new Map<string, EndpointReport>();
  for (const e of previous?.endpoints ?? []) endpoints.set(endpointKey(e), e);
  for (const endpoint of next.endpoints) {
    const before = endpoints.get(endpointKey(endpoint));
    const changed = before === undefined
      ? endpoint.ejected || endpoint.unreachable || endpoint.health === 'unhealthy'
      : before.ejected !== endpoint.ejected || before.unreachable !== endpoint.unreachable || before.health !== endpoint.health;
    if (changed) events.push({ atMs, node, kind: 'endpoint', endpoint: { ...endpoint, node } });
  }
  return events;
}

function breakerKey(b: BreakerReport): string {
  return `${b.upstream}\u0000${b.endpoint}`;
}

function endpointKey(e: EndpointReport): string {
  return `${e.upstream}\u0000${e.address}`;
}
