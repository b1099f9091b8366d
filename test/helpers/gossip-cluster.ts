// A cluster of Memberships on the in-memory network and one FakeClock, with seeded dice, for
// the gossip state-machine tests and the simulations. Time moves in small steps with the
// microtasks run between them, since exchanges (join, push-pull) resolve through promises.
import { FakeClock } from '../../src/clock.ts';
import type { GossipMetrics } from '../../src/gossip/gossip-metrics.ts';
import type { Member } from '../../src/gossip/member.ts';
import { MemoryNetwork, type MemoryNetworkOptions } from '../../src/gossip/memory-network.ts';
import type { MemberStatus } from '../../src/gossip/messages.ts';
import type { GossipSettings } from '../../src/gossip/settings.ts';
import { Membership } from '../../src/gossip/swim.ts';
import type { Transport } from '../../src/gossip/transport.ts';
import { mulberry32 } from '../unit/balancer/fixtures.ts';

export interface ClusterOptions {
  readonly seed?: number;
  readonly network?: MemoryNetworkOptions;
  readonly settings?: Partial<GossipSettings>;
}

export class CountingMetrics implements GossipMetrics {
  readonly probes = { ack: 0, 'indirect-ack': 0, failed: 0 };
  readonly changes = new Map<MemberStatus, number>();
  readonly messages = new Map<string, number>();
  readonly drops = new Map<string, number>();
  bytesIn = 0;
  bytesOut = 0;
  score = 0;
  maxScore = 0;
  probe(result: 'ack' | 'indirect-ack' | 'failed'): void {
    this.probes[result]++;
  }
  message(type: string, direction: string): void {
    const key = `${type}/${direction}`;
    this.messages.set(key, (this.messages.get(key) ?? 0) + 1);
  }
  bytes(direction: 'in' | 'out', count: number): void {
    if (direction === 'in') this.bytesIn += count;
    else this.bytesOut += count;
  }
  awareness(score: number): void {
    this.score = score;
    this.maxScore = Math.max(this.maxScore, score);
  }
  members(): void {}
  memberChange(status: MemberStatus): void {
    this.changes.set(status, (this.changes.get(status) ?? 0) + 1);
  }
  dropped(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }
}

export interface ClusterMember {
  readonly name: string;
  readonly addr: string;
  readonly membership: Membership;
  readonly metrics: CountingMetrics;
}

export class GossipCluster {
  readonly clock = new FakeClock();
  readonly random: () => number;
  readonly network: MemoryNetwork;
  readonly members: ClusterMember[] = [];

  constructor(private readonly options: ClusterOptions = {}) {
    this.random = mulberry32(options.seed ?? 1);
    this.network = new MemoryNetwork(this.clock, this.random, options.network);
  }

  /** Adds and starts a member (not joined); names are m0, m1, … at 10.0.x.y:7946. */
  async add(settings: Partial<GossipSettings> = {}): Promise<ClusterMember> {
    const i = this.members.length;
    const addr = `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:7946`;
    const member = await this.start(`m${i}`, this.network.transport(addr), settings);
    this.members.push(member);
    return member;
  }

  /** The member's process killed and started again at the same address: incarnation 0, nothing known. */
  async restart(old: ClusterMember): Promise<ClusterMember> {
    const member = await this.start(old.name, this.network.restart(old.addr), {});
    this.members[this.members.indexOf(old)] = member;
    return member;
  }

  private async start(name: string, transport: Transport, settings: Partial<GossipSettings>): Promise<ClusterMember> {
    const addr = transport.localAddress;
    const metrics = new CountingMetrics();
    const membership = new Membership({
      node: name,
      transport,
      clock: this.clock,
      random: this.random,
      settings: { ...this.options.settings, ...settings },
      metrics,
    });
    await membership.start();
    return { name, addr, membership, metrics };
  }

  /**
   * Moves time `ms` forward in `stepMs` steps, running microtasks between them; stops early
   * once `stopWhen` (checked every `checkEveryMs`) holds.
   */
  async run(ms: number, stepMs = 10, stopWhen?: () => boolean, checkEveryMs = stepMs): Promise<number> {
    const end = this.clock.now() + ms;
    let nextCheck = this.clock.now() + checkEveryMs;
    while (this.clock.now() < end) {
      this.clock.advance(Math.min(stepMs, end - this.clock.now()));
      await flush();
      if (stopWhen && this.clock.now() >= nextCheck) {
        nextCheck += checkEveryMs;
        if (stopWhen()) break;
      }
    }
    return this.clock.now();
  }

  /** Runs the clock while `promise` is pending (up to `ms`) and returns its outcome. */
  async settle<T>(promise: Promise<T>, ms = 60_000): Promise<T> {
    let done = false;
    const tracked = promise.finally(() => {
      done = true;
    });
    tracked.catch(() => {});
    await this.run(ms, 10, () => done);
    return tracked;
  }

  view(observer: ClusterMember, node: string): Member | undefined {
    return observer.membership.member(node);
  }

  /** True when every member in `observers` sees every other in `subjects` as `status`. */
  allSee(observers: readonly ClusterMember[], subjects: readonly ClusterMember[], status: MemberStatus): boolean {
    return observers.every((o) => subjects.every((s) => s === o || o.membership.member(s.name)?.status === status));
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** A cluster of `n` started members, all joining through m0 at once, run until all see all alive. */
export async function convergedCluster(n: number, options: ClusterOptions = {}, withinMs = 60_000): Promise<GossipCluster> {
  const cluster = new GossipCluster(options);
  for (let i = 0; i < n; i++) await cluster.add();
  const [seed, ...rest] = cluster.members;
  for (const m of rest) void m.membership.join([seed!.addr]);
  await cluster.run(withinMs, 20, () => cluster.allSee(cluster.members, cluster.members, 'alive'), 200);
  if (!cluster.allSee(cluster.members, cluster.members, 'alive')) throw new Error(`${n} members did not converge within ${withinMs} ms`);
  return cluster;
}
