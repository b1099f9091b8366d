// What this agent tells the mesh about itself: each local service at the address other agents
// reach its inbound listener on, with its current health, and whether the agent is draining.

import { formatHostPort, isWildcardHost } from '../config/address.ts';
import type { ServiceConfig } from '../config/types.ts';
import type { MemberMeta, ServiceHealth, ServiceInstance } from '../gossip/messages.ts';

export interface LocalAdvertisement {
  readonly services: readonly ServiceConfig[];
  /** The host of the gossip advertise address (gossip.advertise ?? gossip.bind). */
  readonly advertiseHost: string;
  /** LocalHealth.health: 'unknown' for a service without checks. */
  readonly health: (service: string) => ServiceHealth;
  /** Announced before a graceful shutdown so callers stop sending first. */
  readonly draining: boolean;
  readonly version: string;
  /** The port each inbound listener really took, for a `listen` with port 0. */
  readonly boundPorts?: ReadonlyMap<string, number>;
}

/**
 * A service listening on every interface (0.0.0.0, ::) is advertised at the advertise host
 * with its port. One whose port is not known yet (port 0, not bound) is left out.
 */
export function advertisedInstances(local: LocalAdvertisement): ServiceInstance[] {
  const instances: ServiceInstance[] = [];
  for (const service of local.services) {
    const port = service.listen.port !== 0 ? service.listen.port : local.boundPorts?.get(service.name);
    if (port === undefined || port === 0) continue;
    const host = isWildcardHost(service.listen.host) ? local.advertiseHost : service.listen.host;
    instances.push({ name: service.name, address: formatHostPort(host, port), protocol: service.protocol, weight: service.weight, zone: service.zone, health: local.health(service.name) });
  }
  return instances;
}

export function advertisedMeta(local: LocalAdvertisement): MemberMeta {
  return { services: advertisedInstances(local), draining: local.draining, version: local.version };
}
