import { describe, expect, it } from 'vitest';
import { eligibility, endpointSet } from '../../../src/balancer/endpoint-set.ts';
import { EndpointDiscovery } from '../../../src/discovery/endpoint-discovery.ts';
import type { UpstreamConfig } from '../../../src/config/types.ts';
import { FakeMembership, instance, member, RecordingSink, silentLogger, upstream } from './fake-membership.ts';

const orders = upstream({ name: 'orders' });

function discovery(upstreams: readonly UpstreamConfig[] = [orders], logger: { warn: (fields: object, message: string) => void } = silentLogger) {
  const view = new FakeMembership();
  const sink = new RecordingSink();
  const d = new EndpointDiscovery({ node: 'self', view, upstreams, sink: sink.sink, logger });
  d.start();
  return { view, sink, d };
}

/** Lets the discovery's coalesced refresh run. */
const settled = () => Promise.resolve();

describe('discovery', () => {
  it("publishes an alive member's instance with its weight, zone, health and node", async () => {
    const { view, sink } = discovery();
    view.set([member('a', [instance('orders', '10.0.0.1:15006', { weight: 3, zone: 'z1' }), instance('users', '10.0.0.1:15007')])]);
    await settled();
    expect(sink.calls).toEqual([
      {
        upstream: 'orders',
        endpoints: [{ address: '10.0.0.1:15006', host: '10.0.0.1', port: 15006, weight: 3, zone: 'z1', backup: false, health: 'healthy', metadata: { node: 'a' } }],
      },
    ]);
  });

  it('maps failing to unhealthy and unknown to unknown, so the panic threshold still sees failing instances', async () => {
    const { view, sink } = discovery();
    view.set([
      member('a', [instance('orders', '10.0.0.1:1', { health: 'passing' })]),
      member('b', [instance('orders', '10.0.0.2:1', { health: 'failing' })]),
      member('c', [instance('orders', '10.0.0.3:1', { health: 'failing' })]),
      member('d', [instance('orders', '10.0.0.4:1', { health: 'unknown' })]),
    ]);
    await settled();
    const endpoints = sink.last('orders')!;
    expect(endpoints.map((e) => e.health)).toEqual(['healthy', 'unhealthy', 'unhealthy', 'unknown']);
    // Two of four primaries eligible: below a 60 % threshold the calls spread over all four.
    const below = eligibility(endpointSet(endpoints), undefined, 60);
    expect(below.panic).toBe(true);
    const above = eligibility(endpointSet(endpoints), undefined, 50);
    expect(above.endpoints.map((e) => e.address)).toEqual(['10.0.0.1:1', '10.0.0.4:1']);
  });

  it('drops the instances of a member the moment it is dead, left or draining, and keeps a suspect one', async () => {
    const { view, sink } = discovery();
    const services = (n: number) => [instance('orders', `10.0.0.${n}:1`)];
    view.set([member('a', services(1)), member('b', services(2)), member('c', services(3)), member('d', services(4))]);
    await settled();
    expect(sink.addresses('orders')).toEqual(['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1', '10.0.0.4:1']);
    view.set([
      member('a', services(1), { status: 'suspect' }),
      member('b', services(2), { status: 'dead' }),
      member('c', services(3), { status: 'left' }),
      member('d', services(4), { draining: true }),
    ]);
    await settled();
    expect(sink.addresses('orders')).toEqual(['10.0.0.1:1']);
  });

  it('finds this agent\'s own instances, named by its node, and leaves them out while it drains', () => {
    const { d, sink } = discovery();
    d.setLocal({ services: [instance('orders', '127.0.0.1:15006')], draining: false, version: '' });
    expect(sink.last('orders')).toMatchObject([{ address: '127.0.0.1:15006', metadata: { node: 'self' } }]);
    d.setLocal({ services: [instance('orders', '127.0.0.1:15006')], draining: true, version: '' });
    expect(sink.last('orders')).toEqual([]);
  });

  it('keeps static endpoints first, and a static endpoint wins over an instance at its address', async () => {
    const withStatic = upstream({ name: 'orders', endpoints: [{ address: '10.0.0.9:1', weight: 5 }, '10.0.0.2:1'] });
    const { view, sink } = discovery([withStatic]);
    expect(sink.calls).toEqual([]);
    view.set([member('a', [instance('orders', '10.0.0.2:1', { weight: 7 })]), member('b', [instance('orders', '10.0.0.1:1')])]);
    await settled();
    const endpoints = sink.last('orders')!;
    expect(endpoints.map((e) => [e.address, e.weight, e.metadata])).toEqual([
      ['10.0.0.9:1', 5, {}],
      ['10.0.0.2:1', 1, {}],
      ['10.0.0.1:1', 1, { node: 'b' }],
    ]);
  });

  it('skips an instance of another protocol and warns once per member and service', async () => {
    const warnings: string[] = [];
    const grpcOrders = upstream({ name: 'orders', protocol: 'grpc' });
    const { view, sink } = discovery([grpcOrders], { warn: (fields) => warnings.push(JSON.stringify(fields)) });
    const members = [member('a', [instance('orders', '10.0.0.1:1', { protocol: 'http' })]), member('b', [instance('orders', '10.0.0.2:1', { protocol: 'grpc' })])];
    view.set(members);
    await settled();
    view.set([...members, member('c', [])]);
    await settled();
    expect(sink.addresses('orders')).toEqual(['10.0.0.2:1']);
    expect(warnings).toEqual([JSON.stringify({ upstream: 'orders', node: 'a', service: 'orders', address: '10.0.0.1:1', protocol: 'http', expected: 'grpc' })]);
  });

  it('publishes nothing for a round that changes nothing, and only the upstream that changed', async () => {
    const users = upstream({ name: 'users' });
    const { view, sink } = discovery([orders, users]);
    const a = member('a', [instance('orders', '10.0.0.1:1'), instance('users', '10.0.0.1:2')]);
    view.set([a]);
    await settled();
    expect(sink.calls.map((c) => c.upstream)).toEqual(['orders', 'users']);
    view.set([{ ...a, incarnation: 2 }]);
    await settled();
    expect(sink.calls).toHaveLength(2);
    view.set([member('a', [instance('orders', '10.0.0.1:1'), instance('users', '10.0.0.1:2', { health: 'failing' })])]);
    await settled();
    expect(sink.calls.map((c) => c.upstream)).toEqual(['orders', 'users', 'users']);
  });

  it('works many changes arriving together out once', async () => {
    const { view, sink } = discovery();
    view.set(Array.from({ length: 50 }, (_, i) => member(`m${i}`, [instance('orders', `10.0.1.${i + 1}:1`)])));
    await settled();
    expect(sink.calls).toHaveLength(1);
    expect(sink.last('orders')).toHaveLength(50);
  });

  it('republishes to an upstream whose config changed, which the agent recommits with its static endpoints only', async () => {
    const { view, sink, d } = discovery();
    view.set([member('a', [instance('orders', '10.0.0.1:1')])]);
    await settled();
    d.setUpstreams([upstream({ name: 'orders' })]);
    expect(sink.calls).toHaveLength(1);
    d.setUpstreams([upstream({ name: 'orders', policy: { timeout: '2s' } }), upstream({ name: 'users' })]);
    expect(sink.calls.map((c) => [c.upstream, c.endpoints.length])).toEqual([
      ['orders', 1],
      ['orders', 1],
    ]);
  });

  it('tries again on the next change when the sink refuses a list', async () => {
    const view = new FakeMembership();
    const given: number[] = [];
    let refuse = true;
    const sink = (_name: string, endpoints: readonly unknown[]) => {
      if (refuse) throw new Error('no picker');
      given.push(endpoints.length);
    };
    const d = new EndpointDiscovery({ node: 'self', view, upstreams: [orders], sink, logger: silentLogger });
    d.start();
    view.set([member('a', [instance('orders', '10.0.0.1:1')])]);
    await settled();
    refuse = false;
    view.set([member('a', [instance('orders', '10.0.0.1:1')])]);
    await settled();
    expect(given).toEqual([1]);
  });

  it('stops following the membership once closed', async () => {
    const { view, sink, d } = discovery();
    d.close();
    view.set([member('a', [instance('orders', '10.0.0.1:1')])]);
    await settled();
    expect(sink.calls).toEqual([]);
  });
});
