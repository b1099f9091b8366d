import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EndpointDiscovery } from '../../../src/discovery/endpoint-discovery.ts';
import type { Member } from '../../../src/gossip/member.ts';
import { FakeMembership, instance, member, RecordingSink, silentLogger, upstream } from './fake-membership.ts';

// A few addresses and names, so members collide with each other and with static endpoints.
const addresses = ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1', '10.0.0.4:2', '[fd00::1]:1'];
const services = ['orders', 'users'];

const instanceArb = fc.record({
  name: fc.constantFrom(...services, 'billing'),
  address: fc.constantFrom(...addresses),
  protocol: fc.constantFrom('http' as const, 'grpc' as const),
  weight: fc.integer({ min: 1, max: 4 }),
  zone: fc.constantFrom('', 'z1'),
  health: fc.constantFrom('passing' as const, 'failing' as const, 'unknown' as const),
});

const membersArb = fc.uniqueArray(
  fc.record({
    node: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    status: fc.constantFrom('alive' as const, 'suspect' as const, 'dead' as const, 'left' as const),
    draining: fc.boolean(),
    services: fc.array(instanceArb, { maxLength: 4 }),
  }),
  { selector: (m) => m.node, maxLength: 6 },
).map((specs) => specs.map((s) => member(s.node, s.services.map((i) => instance(i.name, i.address, i)), s)));

const upstreamsArb = fc.tuple(fc.subarray(addresses, { maxLength: 2 }), fc.subarray(addresses, { maxLength: 2 }), fc.constantFrom('http', 'grpc')).map(([ordersStatic, usersStatic, protocol]) => [
  upstream({ name: 'orders', protocol, endpoints: ordersStatic.map((address) => ({ address, weight: 9, metadata: { static: 'yes' } })) }),
  upstream({ name: 'users', endpoints: usersStatic }),
]);

/** The lists published for the view, after each upstream's first list. */
function run(upstreams: ReturnType<typeof upstream>[], members: readonly Member[]) {
  const view = new FakeMembership();
  const sink = new RecordingSink();
  const d = new EndpointDiscovery({ node: 'self', view, upstreams, sink: sink.sink, logger: silentLogger });
  d.start();
  view.set(members);
  d.refresh();
  const held = (name: string) => sink.last(name) ?? upstreams.find((u) => u.name === name)!.endpoints.map((e) => ({ ...e, health: 'unknown' }));
  return { view, sink, d, held };
}

describe('discovery properties', () => {
  it('never publishes an endpoint of a dead, left or draining member', () => {
    fc.assert(
      fc.property(upstreamsArb, membersArb, (upstreams, members) => {
        const gone = new Set(members.filter((m) => m.status === 'dead' || m.status === 'left' || m.meta.draining).map((m) => m.node));
        const { sink } = run(upstreams, members);
        for (const call of sink.calls) for (const e of call.endpoints) expect(gone.has(e.metadata.node ?? '')).toBe(false);
      }),
    );
  });

  it('always holds every static endpoint as configured, and no address twice', () => {
    fc.assert(
      fc.property(upstreamsArb, membersArb, membersArb, (upstreams, first, second) => {
        const { view, d, held } = run(upstreams, first);
        view.set(second);
        d.refresh();
        for (const u of upstreams) {
          const endpoints = held(u.name);
          expect(new Set(endpoints.map((e) => e.address)).size).toBe(endpoints.length);
          for (const e of u.endpoints) expect(endpoints.find((x) => x.address === e.address)).toEqual({ ...e, health: 'unknown' });
        }
      }),
    );
  });

  it('publishes nothing again for an unchanged view, whatever order it lists members in', () => {
    fc.assert(
      fc.property(upstreamsArb, membersArb.chain((ms) => fc.tuple(fc.constant(ms), fc.shuffledSubarray(ms, { minLength: ms.length }))), (upstreams, [members, shuffled]) => {
        const { view, sink, d } = run(upstreams, members);
        const calls = sink.calls.length;
        d.refresh();
        view.set(shuffled.map((m) => ({ ...m, incarnation: m.incarnation + 1 })));
        d.refresh();
        expect(sink.calls.length).toBe(calls);
      }),
    );
  });

  it('publishes the same lists whatever order the members are listed in', () => {
    fc.assert(
      fc.property(upstreamsArb, membersArb.chain((ms) => fc.tuple(fc.constant(ms), fc.shuffledSubarray(ms, { minLength: ms.length }))), (upstreams, [members, shuffled]) => {
        const one = run(upstreams, members);
        const other = run(upstreams, shuffled);
        for (const u of upstreams) expect(other.held(u.name)).toEqual(one.held(u.name));
      }),
    );
  });
});
