// Which endpoints an upstream has, from what every agent advertises (this one included) and
// the upstream's static endpoints. Pure, and independent of the order members are listed in.

import type { Endpoint } from '../balancer/endpoint-set.ts';
import type { UpstreamConfig } from '../config/types.ts';
import type { MemberMeta, MemberStatus, ServiceInstance } from '../gossip/messages.ts';
import { instanceEndpoint } from './instance-endpoint.ts';

/** An agent's advertisement: a Member, or this agent's own. */
export interface InstanceSource {
  readonly node: string;
  readonly status: MemberStatus;
  readonly meta: MemberMeta;
}

export interface Candidate {
  readonly source: InstanceSource;
  readonly instance: ServiceInstance;
}

export type SkipReason = 'protocol' | 'address';

/** Called for each instance that names the upstream but cannot serve it. */
export type SkipListener = (candidate: Candidate, upstream: UpstreamConfig, why: SkipReason) => void;

/**
 * The instances of agents that take calls, by service name. A suspect member still counts
 * (it may refute; its calls are judged by breakers and retries meanwhile); a dead or left one
 * does not, nor a draining one, whose callers stop sending first.
 */
export function candidatesByService(sources: Iterable<InstanceSource>): Map<string, Candidate[]> {
  const byService = new Map<string, Candidate[]>();
  for (const source of sources) {
    if ((source.status !== 'alive' && source.status !== 'suspect') || source.meta.draining) continue;
    for (const instance of source.meta.services) {
      const list = byService.get(instance.name);
      if (list === undefined) byService.set(instance.name, [{ source, instance }]);
      else list.push({ source, instance });
    }
  }
  return byService;
}

/**
 * The upstream's static endpoints in config order, then the discovered ones by address. A
 * static endpoint wins over an instance at its address; of two instances at one address, an
 * alive member's wins over a suspect's, then the lower node name.
 */
export function upstreamEndpoints(upstream: UpstreamConfig, candidates: readonly Candidate[], skipped: SkipListener): Endpoint[] {
  const taken = new Map<string, { endpoint: Endpoint; source: InstanceSource }>();
  for (const candidate of candidates) {
    if (candidate.instance.protocol !== upstream.protocol) {
      skipped(candidate, upstream, 'protocol');
      continue;
    }
    const endpoint = instanceEndpoint(candidate.instance, candidate.source.node);
    if (endpoint === undefined) {
      skipped(candidate, upstream, 'address');
      continue;
    }
    const held = taken.get(endpoint.address);
    if (held === undefined || preferred(candidate.source, held.source)) taken.set(endpoint.address, { endpoint, source: candidate.source });
  }
  const statics = staticEndpoints(upstream);
  for (const e of statics) taken.delete(e.address);
  const discovered = [...taken.values()].map((t) => t.endpoint).sort((a, b) => compare(a.address, b.address));
  return [...statics, ...discovered];
}

/** The endpoints an upstream committed from config holds (upstream.ts prepareUpstream). */
export function staticEndpoints(upstream: UpstreamConfig): Endpoint[] {
  return upstream.endpoints.map((e) => ({ ...e, health: 'unknown' }));
}

function preferred(a: InstanceSource, b: InstanceSource): boolean {
  if (a.status !== b.status) return a.status === 'alive';
  return compare(a.node, b.node) < 0;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
