// One advertised service instance as the endpoint a balancer picks. Health keeps the
// instance in the set rather than dropping it: eligibility() (balancer/endpoint-set.ts) keeps
// calls off an 'unhealthy' endpoint but still counts it among the primaries, so the panic
// threshold sees how many instances are failing, and an instance that flaps keeps its
// connections, load and breaker state, which are keyed by address.

import { isWildcardHost, parseHostPort } from '../config/address.ts';
import type { Endpoint, EndpointHealth } from '../balancer/endpoint-set.ts';
import type { ServiceHealth, ServiceInstance } from '../gossip/messages.ts';

const ENDPOINT_HEALTH: Readonly<Record<ServiceHealth, EndpointHealth>> = { passing: 'healthy', failing: 'unhealthy', unknown: 'unknown' };

/** The endpoint at the instance's address; undefined when no other agent could connect to it. */
export function instanceEndpoint(instance: ServiceInstance, node: string): Endpoint | undefined {
  const parsed = parseHostPort(instance.address, { allowPortZero: false });
  if (!parsed.ok || isWildcardHost(parsed.value.host)) return undefined;
  return {
    address: instance.address,
    host: parsed.value.host,
    port: parsed.value.port,
    weight: instance.weight,
    ...(instance.zone !== '' ? { zone: instance.zone } : {}),
    backup: false,
    health: ENDPOINT_HEALTH[instance.health],
    metadata: { node },
  };
}
