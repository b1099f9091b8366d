// Upstreams on a fake clock with seeded dice, over DrivenForwarders (test/helpers/in-memory-forwarder.ts):
// the fast tier, with no socket and no real time.

import { DecisionLog } from '../../../src/observability/decisions.ts';
import type { Endpoint } from '../../../src/balancer/endpoint-set.ts';
import { FakeClock } from '../../../src/clock.ts';
import type { UpstreamConfig } from '../../../src/config/types.ts';
import { MeshletMetrics } from '../../../src/observability/metrics.ts';
import type { Outcome } from '../../../src/proxy/call/outcome.ts';
import { prepareUpstream, Upstream, type UpstreamDependencies } from '../../../src/proxy/upstream/upstream.ts';
import { DrivenForwarderPool, GET } from '../../helpers/in-memory-forwarder.ts';
import { mulberry32 } from '../balancer/fixtures.ts';

export function endpointOf(address: string, health: Endpoint['health'] = 'unknown'): Endpoint {
  const [host = '', port = '0'] = address.split(':');
  return { address, host, port: Number(port), weight: 1, backup: false, metadata: {}, health };
}

export interface UpstreamHarness {
  readonly clock: FakeClock;
  readonly pool: DrivenForwarderPool;
  readonly deps: UpstreamDependencies;
  build(config: UpstreamConfig): Upstream;
}

export function upstreamHarness(seed = 1): UpstreamHarness {
  const clock = new FakeClock();
  const pool = new DrivenForwarderPool();
  const deps = { clock, random: mulberry32(seed), metrics: new MeshletMetrics(), forwarders: pool.asPool(), decisions: new DecisionLog(clock, () => 0), connectProbe: pool.connectProbe };
  return { clock, pool, deps, build: (config) => new Upstream(prepareUpstream(config, deps), deps) };
}

/** An attempt to `address` ended with `outcome`, as the endpoint step reports it. */
export function observeAttempt(upstream: Upstream, address: string, outcome: Outcome): void {
  const state = upstream.endpointState(address)!;
  upstream.attemptStarted(state);
  upstream.observe(state, outcome);
}

/** The addresses `n` picks returned, or the kind of result when a pick returned none. */
export function pickedAddresses(upstream: Upstream, n: number): Set<string> {
  return new Set(Array.from({ length: n }, () => upstream.pick(GET)).map((r) => (r.kind === 'picked' ? r.endpoint.address : r.kind)));
}
