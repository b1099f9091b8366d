// Gossip as the agent runs it: the keyring and sealed UDP/TCP transport under the membership,
// the local services' health checks and this agent's advertisement on top of it, and
// discovery turning the members' advertisements into the upstreams' endpoints. It also feeds
// Lifeguard the event loop's lag, retries the seeds while it knows no one alive, announces
// draining before a graceful shutdown, and leaves on stop.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Clock, Random, TimerHandle } from '../clock.ts';
import type { AgentConfig, GossipConfig } from '../config/types.ts';
import { advertisedMeta } from '../discovery/advertised-meta.ts';
import { EndpointDiscovery, type EndpointSink } from '../discovery/endpoint-discovery.ts';
import { Keyring, KeyringError } from '../gossip/keyring.ts';
import type { Member, MemberChange } from '../gossip/member.ts';
import { SealedTransport } from '../gossip/sealed-transport.ts';
import { gossipSettingsFromConfig } from '../gossip/settings.ts';
import { Membership } from '../gossip/swim.ts';
import { UdpTransport } from '../gossip/udp-transport.ts';
import { LocalHealth } from '../health/local-health.ts';
import type { HealthTransition } from '../health/health-monitor.ts';
import type { GossipKeyAction, GossipKeyChangeResult } from '../observability/admin-server.ts';
import type { DecisionLog } from '../observability/decisions.ts';
import type { GossipPromMetrics } from '../observability/gossip-metrics.ts';

export interface GossipRuntimeDependencies {
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly metrics: GossipPromMetrics;
  readonly decisions: DecisionLog;
  /** Where discovered endpoint lists go: the running upstream of that name. */
  readonly sink: EndpointSink;
  /** The port each inbound service's listener really took (for `listen` with port 0). */
  readonly boundPorts: () => ReadonlyMap<string, number>;
  readonly version: string;
}

/** While no member is known alive, the seeds are tried again this often (Serf's retry_join). */
const REJOIN_INTERVAL_MS = 10_000;
/** After announcing draining, callers get this many gossip rounds' worth of time to hear it. */
const DRAIN_ANNOUNCE_ROUNDS = 20;

export class GossipRuntime {
  readonly keyring: Keyring;
  private readonly membership: Membership;
  private readonly health: LocalHealth;
  private readonly discovery: EndpointDiscovery;
  private readonly lag: IntervalHistogram;
  private readonly timers: TimerHandle[] = [];
  private config: AgentConfig;
  private draining = false;
  private joining = false;

  private constructor(
    config: AgentConfig & { readonly gossip: GossipConfig },
    private readonly deps: GossipRuntimeDependencies,
  ) {
    this.config = config;
    const { gossip } = config;
    this.keyring = new Keyring(gossip.keys);
    const socket = new UdpTransport({
      bind: gossip.bind,
      ...(gossip.advertise ? { advertise: gossip.advertise.text } : {}),
      clock: deps.clock,
      metrics: deps.metrics.wire,
      log: deps.logger,
    });
    const transport = new SealedTransport(socket, { keyring: this.keyring, metrics: deps.metrics.wire, clock: deps.clock });
    this.health = new LocalHealth(config.services, { clock: deps.clock, metrics: deps.metrics.health });
    this.membership = new Membership({
      node: config.node,
      transport,
      clock: deps.clock,
      random: deps.random,
      settings: gossipSettingsFromConfig(gossip.timing),
      metrics: deps.metrics.membership,
      logger: deps.logger,
      meta: this.meta(),
    });
    this.discovery = new EndpointDiscovery({ node: config.node, view: this.membership, upstreams: config.upstreams, sink: deps.sink, logger: deps.logger });
    this.lag = monitorEventLoopDelay({ resolution: 10 });
  }

  /** Binds the gossip sockets, starts checks and probing, and joins the seeds in the background. */
  static async start(config: AgentConfig & { readonly gossip: GossipConfig }, deps: GossipRuntimeDependencies): Promise<GossipRuntime> {
    const runtime = new GossipRuntime(config, deps);
    await runtime.membership.start();
    runtime.membership.subscribe((change) => runtime.memberChanged(change));
    runtime.health.subscribe((transition) => runtime.healthChanged(transition));
    runtime.health.start();
    runtime.discovery.setLocal(runtime.meta());
    runtime.discovery.start();
    runtime.lag.enable();
    const probeInterval = config.gossip.timing.probeInterval;
    runtime.timers.push(deps.clock.setInterval(() => runtime.feedLag(), probeInterval));
    runtime.timers.push(deps.clock.setInterval(() => runtime.rejoinIfAlone(), REJOIN_INTERVAL_MS));
    for (const timer of runtime.timers) timer.unref();
    runtime.joinSeeds();
    deps.logger.info({ node: config.node, gossip: runtime.membership.address, seeds: config.gossip.join.map((s) => s.text) }, 'gossip started');
    return runtime;
  }

  /** A new config: checks of changed services restart, discovery follows the new upstreams, the advertisement follows both. */
  async reload(config: AgentConfig & { readonly gossip: GossipConfig }): Promise<void> {
    this.config = config;
    this.discovery.setUpstreams(config.upstreams);
    await this.health.update(config.services);
    void this.advertise();
  }

  /** Called after the upstreams of a config were committed: those that were rebuilt get their discovered endpoints again. */
  upstreamsCommitted(config: AgentConfig): void {
    this.discovery.setUpstreams(config.upstreams);
  }

  /**
   * Tells the mesh this agent is going away, then gives callers time to stop sending: until the
   * announcement was sent its retransmit limit's times and at least a few gossip rounds have
   * passed, at most `maxWaitMs`. Counting the sends, not only the time, keeps the window open
   * when this agent's own event loop lags and its gossip rounds run late.
   */
  async announceDraining(maxWaitMs: number): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const sent = this.advertise();
    const roundsMs = Math.min(maxWaitMs, DRAIN_ANNOUNCE_ROUNDS * this.config.gossip!.timing.gossipInterval);
    let cap: TimerHandle | undefined;
    await Promise.race([
      Promise.all([sent, new Promise<void>((resolve) => this.deps.clock.setTimeout(resolve, roundsMs))]),
      new Promise<void>((resolve) => (cap = this.deps.clock.setTimeout(resolve, maxWaitMs))),
    ]);
    this.deps.clock.clearTimeout(cap!);
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) this.deps.clock.clearInterval(timer);
    this.lag.disable();
    this.discovery.close();
    await this.health.stop();
    await this.membership.leave();
    await this.membership.close();
  }

  /** GET /api/v1/members. */
  describe(): unknown {
    const now = this.deps.clock.now();
    return {
      self: { node: this.config.node, addr: this.membership.address, status: this.draining ? 'draining' : 'alive', incarnation: this.membership.currentIncarnation, awareness: this.membership.awarenessScore, services: this.meta().services },
      members: [...this.membership.members()].map((member) => describeMember(member, now)),
    };
  }

  describeKeys(): unknown {
    return { keys: this.keyring.list() };
  }

  changeKey(action: GossipKeyAction, key: string): GossipKeyChangeResult {
    try {
      this.keyring[action](key);
    } catch (err) {
      if (!(err instanceof KeyringError)) throw err;
      const status = err.code === 'MESHLET_GOSSIP_KEY_NOT_INSTALLED' ? 404 : err.code === 'MESHLET_GOSSIP_KEY_INVALID' ? 400 : 409;
      return { ok: false, status, error: err.message };
    }
    const keys = this.keyring.list();
    this.deps.decisions.record({ kind: 'gossip_keys_changed', scope: 'gossip', reason: `gossip key ${action}: the keyring holds ${keys.length} keys, ${keys[0]!.fingerprint} seals`, data: { action, keys: keys.length, primary: keys[0]!.fingerprint } });
    return { ok: true, keys: { keys } };
  }

  private meta() {
    return advertisedMeta({
      services: this.config.services,
      advertiseHost: (this.config.gossip!.advertise ?? this.config.gossip!.bind).host,
      health: (service) => this.health.health(service),
      draining: this.draining,
      version: this.deps.version,
      boundPorts: this.deps.boundPorts(),
    });
  }

  /** A new advertisement: gossiped under a new incarnation, and used for this agent's own calls. */
  private advertise(): Promise<void> {
    const meta = this.meta();
    const sent = this.membership.setMeta(meta);
    this.discovery.setLocal(meta);
    return sent;
  }

  private healthChanged(transition: HealthTransition): void {
    this.deps.decisions.record({
      kind: 'service_health_changed',
      scope: `service:${transition.service}`,
      reason: `${transition.service} is ${transition.current} (was ${transition.previous}): ${transition.reason}`,
      data: { previous: transition.previous, current: transition.current, check: transition.reason },
    });
    void this.advertise();
  }

  private memberChanged({ member, previous }: MemberChange): void {
    if (previous !== undefined && previous.status === member.status) return;
    this.deps.decisions.record({
      kind: 'member_changed',
      scope: 'gossip',
      endpoint: member.addr,
      reason: `member ${member.node} is ${member.status}${previous ? ` (was ${previous.status})` : ''}: ${member.reason}`,
      data: { node: member.node, status: member.status, previous: previous?.status ?? null, incarnation: member.incarnation, why: member.reason },
    });
  }

  private feedLag(): void {
    // The worst delay of the last interval, in ms: a loop late by more than a probe timeout
    // would miss acks it was sent, so Lifeguard should stretch this agent's timeouts.
    this.membership.noteEventLoopLag(this.lag.max / 1e6);
    this.lag.reset();
  }

  private joinSeeds(): void {
    const seeds = this.config.gossip!.join.map((seed) => seed.text);
    if (seeds.length === 0 || this.joining) return;
    this.joining = true;
    this.membership
      .join(seeds)
      .catch((err: unknown) => this.deps.logger.warn({ seeds, err: (err as Error).message }, 'gossip join failed; the seeds are tried again while no member is alive'))
      .finally(() => {
        this.joining = false;
      });
  }

  private rejoinIfAlone(): void {
    for (const member of this.membership.members()) if (member.status === 'alive') return;
    this.joinSeeds();
  }
}

function describeMember(member: Member, now: number) {
  return {
    node: member.node,
    addr: member.addr,
    status: member.status,
    incarnation: member.incarnation,
    services: member.meta.services,
    draining: member.meta.draining,
    version: member.meta.version,
    since: member.since,
    sinceMs: Math.max(0, now - member.since),
    reason: member.reason,
  };
}
