// A MembershipView the test sets, and the pieces discovery tests build members and upstreams from.
import type { Endpoint } from '../../../src/balancer/endpoint-set.ts';
import { upstreamSchema } from '../../../src/config/upstream-schema.ts';
import type { UpstreamConfig } from '../../../src/config/types.ts';
import type { Member, MemberChange, MembershipView } from '../../../src/gossip/member.ts';
import type { MemberStatus, ServiceInstance } from '../../../src/gossip/messages.ts';

export class FakeMembership implements MembershipView {
  private list: readonly Member[] = [];
  private readonly listeners = new Set<(change: MemberChange) => void>();

  members(): Iterable<Member> {
    return this.list;
  }

  subscribe(listener: (change: MemberChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replaces the members and tells the listeners once per member, as a merge of many would. */
  set(members: readonly Member[]): void {
    this.list = members;
    for (const member of members) for (const listener of this.listeners) listener({ member, previous: undefined });
  }
}

export function member(node: string, services: readonly ServiceInstance[], fields: { status?: MemberStatus; draining?: boolean } = {}): Member {
  return {
    node,
    addr: `${node}:7946`,
    status: fields.status ?? 'alive',
    incarnation: 1,
    meta: { services, draining: fields.draining ?? false, version: '0.1.0' },
    since: 0,
    reason: 'joined',
  };
}

export function instance(name: string, address: string, fields: Partial<ServiceInstance> = {}): ServiceInstance {
  return { name, address, protocol: 'http', weight: 1, zone: '', health: 'passing', ...fields };
}

export function upstream(raw: Record<string, unknown>): UpstreamConfig {
  return upstreamSchema.parse(raw);
}

/** What each sink call was given, by upstream. */
export class RecordingSink {
  readonly calls: { upstream: string; endpoints: readonly Endpoint[] }[] = [];
  readonly sink = (upstream: string, endpoints: readonly Endpoint[]): void => void this.calls.push({ upstream, endpoints });

  last(upstream: string): readonly Endpoint[] | undefined {
    return this.calls.findLast((c) => c.upstream === upstream)?.endpoints;
  }

  addresses(upstream: string): string[] | undefined {
    return this.last(upstream)?.map((e) => e.address);
  }
}

export const silentLogger = { warn: () => undefined };
