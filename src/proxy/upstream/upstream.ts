// Everything the request path needs for one upstream, built once when config is applied and
// swapped whole on reload: endpoint set, picker, per-endpoint forwarders and metric handles.

import type { Clock, Random } from '../../clock.ts';
import type { Protocol, UpstreamConfig } from '../../config/types.ts';
import { endpointSet, type Endpoint, type EndpointSet } from '../../balancer/endpoint-set.ts';
import type { Picker } from '../../balancer/picker.ts';
import { createPicker } from '../../balancer/registry.ts';
import type { EndpointMetrics, MeshletMetrics, UpstreamMetrics, WireProtocol } from '../../observability/metrics.ts';
import type { Forwarder } from '../forward/forwarder.ts';
import { hashKeyExtractor, type HashKeyExtractor } from './hash-key.ts';
import type { ForwarderPool } from '../forward/forwarder-pool.ts';

export interface EndpointRuntime {
  readonly endpoint: Endpoint;
  readonly metrics: EndpointMetrics;
  readonly forwarder: Forwarder;
}

export interface UpstreamDependencies {
  readonly clock: Clock;
  readonly random: Random;
  readonly metrics: MeshletMetrics;
  readonly forwarders: ForwarderPool;
}

const WIRE: Readonly<Record<Protocol, WireProtocol>> = { http: 'http1', http2: 'http2', grpc: 'grpc' };

export class UpstreamRuntime {
  readonly name: string;
  readonly wireProtocol: WireProtocol;
  readonly timeoutMs: number;
  readonly set: EndpointSet;
  readonly picker: Picker;
  readonly endpoints: ReadonlyMap<Endpoint, EndpointRuntime>;
  readonly metrics: UpstreamMetrics;
  readonly hashKeyOf: HashKeyExtractor;

  constructor(
    readonly config: UpstreamConfig,
    deps: UpstreamDependencies,
    previous?: UpstreamRuntime,
  ) {
    this.name = config.name;
    this.wireProtocol = WIRE[config.protocol];
    this.timeoutMs = config.policy.timeout;
    this.set = endpointSet(
      config.endpoints.map((e) => ({ ...e, health: 'unknown' as const })),
      (previous?.set.version ?? 0) + 1,
    );
    this.picker = createPicker(config.policy.lb, this.set, deps, previous?.picker);
    this.metrics = deps.metrics.bindUpstream(config.name);
    this.hashKeyOf = hashKeyExtractor(config.policy.lb.hashOn);
    const endpoints = new Map<Endpoint, EndpointRuntime>();
    for (const endpoint of this.set.endpoints) {
      endpoints.set(endpoint, {
        endpoint,
        metrics: deps.metrics.bindEndpoint(config.name, endpoint.address),
        forwarder: deps.forwarders.acquire(config.protocol, endpoint, config.policy),
      });
    }
    this.endpoints = endpoints;
    deps.metrics.setEndpointCounts(config.name, { healthy: 0, unhealthy: 0, unknown: this.set.endpoints.length });
  }

  /** The view /api/v1/upstreams shows. */
  describe(): unknown {
    const state = this.picker.describe();
    return {
      name: this.name,
      protocol: this.config.protocol,
      listen: this.config.listen?.text ?? null,
      algorithm: this.config.policy.lb.algorithm,
      timeoutMs: this.timeoutMs,
      endpoints: this.set.endpoints.map((e) => ({
        address: e.address,
        weight: e.weight,
        zone: e.zone ?? null,
        backup: e.backup,
        health: e.health,
        picker: state.endpoints.find((s) => s.address === e.address) ?? null,
      })),
    };
  }
}
