// Discovery connected to a real Upstream as the agent connects it (sink → setEndpoints): what
// a caller's picks see when members die and instances fail, and that what stays keeps its state.
import { describe, expect, it } from 'vitest';
import { EndpointDiscovery } from '../../../src/discovery/endpoint-discovery.ts';
import type { EndpointState } from '../../../src/proxy/upstream/endpoint-state.ts';
import type { Upstream } from '../../../src/proxy/upstream/upstream.ts';
import { GET } from '../../helpers/in-memory-forwarder.ts';
import { upstreamHarness } from '../upstream/fixtures.ts';
import { FakeMembership, instance, member, silentLogger, upstream } from './fake-membership.ts';

/** The endpoint states 60 picks reached, by address. */
function reached(target: Upstream): Map<string, EndpointState> {
  const seen = new Map<string, EndpointState>();
  for (let i = 0; i < 60; i++) {
    const result = target.pick(GET);
    if (result.kind === 'picked') seen.set(result.endpoint.address, result.endpoint);
  }
  return seen;
}

describe('discovery feeding an upstream', () => {
  it('takes a dead member out of every pick at once and keeps the state of those that stay', async () => {
    const config = upstream({ name: 'orders', endpoints: ['10.0.9.9:80'] });
    const orders = upstreamHarness().build(config);
    const view = new FakeMembership();
    const discovery = new EndpointDiscovery({ node: 'self', view, upstreams: [config], sink: (_name, endpoints) => orders.setEndpoints(endpoints), logger: silentLogger });
    discovery.start();
    const at = (n: number, health: 'passing' | 'failing' = 'passing') => [instance('orders', `10.0.0.${n}:80`, { health })];
    view.set([member('a', at(1)), member('b', at(2)), member('c', at(3))]);
    await Promise.resolve();
    const before = reached(orders);
    expect([...before.keys()].sort()).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.9.9:80']);

    view.set([member('a', at(1)), member('b', at(2)), member('c', at(3), { status: 'dead' })]);
    await Promise.resolve();
    const after = reached(orders);
    expect([...after.keys()].sort()).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.9.9:80']);
    for (const [address, state] of after) expect(state).toBe(before.get(address));

    view.set([member('a', at(1)), member('b', at(2, 'failing'))]);
    await Promise.resolve();
    expect([...reached(orders).keys()].sort()).toEqual(['10.0.0.1:80', '10.0.9.9:80']);
    expect(orders.healthOf('10.0.0.2:80')).toBe('unhealthy');
    expect(orders.endpointState('10.0.0.2:80')).toBe(before.get('10.0.0.2:80'));
  });
});
