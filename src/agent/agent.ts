// The composition root: builds an agent from its config, starts its listeners, applies
// reloads without tearing requests in flight, and drains on shutdown.

import type { Logger } from 'pino';
import { systemClock, systemRandom, type Clock, type Random } from '../clock.ts';
import type { AgentConfig, ServiceConfig, UpstreamConfig } from '../config/types.ts';
import { formatHostPort } from '../config/address.ts';
import { redactConfig } from '../config/redact.ts';
import { startAdminServer, type AdminServer } from '../observability/admin-server.ts';
import { DecisionLog } from '../observability/decisions.ts';
import { InternalErrors } from '../observability/internal-errors.ts';
import { AccessLog } from '../observability/logger.ts';
import { MeshletMetrics } from '../observability/metrics.ts';
import { nodeStats, type NodeStats, type UpstreamState } from '../observability/node-stats.ts';
import { TrafficStats } from '../observability/traffic-stats.ts';
import { dashboardPages } from '../dashboard/pages.ts';
import { clientConnectionBudget, ConnectionBudget } from '../proxy/listen/connection-budget.ts';
import { ForwarderPool } from '../proxy/forward/forwarder-pool.ts';
import { composeSteps } from '../proxy/call/attempt.ts';
import { EndpointDispatcher } from '../proxy/call/endpoint-step.ts';
import { ReplayBufferTracker } from '../proxy/call/replay-buffer-tracker.ts';
import { fallback } from '../resilience/fallback-step.ts';
import { hedgeStep } from '../resilience/hedge-step.ts';
import { rateLimit } from '../resilience/rate-limit-step.ts';
import { retryStep } from '../resilience/retry-step.ts';
import { upstreamBreaker } from '../resilience/upstream-breaker-step.ts';
import { upstreamLimit } from '../resilience/upstream-limit-step.ts';
import { transparentRetry } from '../resilience/transparent-retry.ts';
import { HttpFrontend, type FrontendEnvironment } from '../proxy/listen/frontend.ts';
import { Listener, type ListenerLimits } from '../proxy/listen/listener.ts';
import { routingName } from '../proxy/route/authority.ts';
import { connectHandler } from '../proxy/listen/tunnel.ts';
import { prepareUpstream, Upstream, type UpstreamChange } from '../proxy/upstream/upstream.ts';
import { InFlightCounter } from '../proxy/listen/in-flight.ts';
import type { CallTarget } from '../proxy/call/call-target.ts';
import { InboundService, prepareInbound, type InboundChange } from '../proxy/inbound/inbound-service.ts';
import { tcpConnectProbe } from '../proxy/forward/connect-probe.ts';
import { openFilesSoftLimit } from './descriptor-limit.ts';
import type { GossipRuntime } from './gossip-runtime.ts';
import { MESHLET_VERSION } from './version.ts';

/** An upstream plus the frontend its port and CONNECT tunnels feed; both live as long as its name is in the config. */
interface UpstreamSlot {
  readonly upstream: Upstream;
  readonly frontend: HttpFrontend;
}

/** An inbound service plus the frontend of its listener; both live as long as its name is in the config. */
interface ServiceSlot {
  readonly service: InboundService;
  readonly frontend: HttpFrontend<InboundService>;
}

/** One upstream of a prepared config. */
interface PlannedUpstream {
  readonly config: UpstreamConfig;
  /** Undefined when its config is unchanged: the running upstream stays as it is. */
  readonly change: UpstreamChange | undefined;
}

/** One inbound service of a prepared config. */
interface PlannedService {
  readonly config: ServiceConfig;
  /** Undefined when its config is unchanged: the running service stays as it is. */
  readonly change: InboundChange | undefined;
}

/** A config prepared by Agent.prepare: everything built, nothing in force until commit. */
export interface AgentPlan {
  readonly config: AgentConfig;
  /** Outbound upstreams by name, in config order. */
  readonly upstreams: ReadonlyMap<string, PlannedUpstream>;
  /** Inbound services by name, in config order. */
  readonly services: ReadonlyMap<string, PlannedService>;
}

/** A listener a reload could not open (its address in use, say); the rest of the config applies. */
export interface ListenerFailure {
  readonly listener: string;
  readonly address: string;
  readonly error: string;
}

export interface AgentDependencies {
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  /** The soft RLIMIT_NOFILE (default: read from /proc/self/limits). */
  readonly descriptorLimit?: number;
}

function sameConfig<T extends UpstreamConfig | ServiceConfig>(a: T, b: T): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class Agent {
  readonly metrics = new MeshletMetrics();
  /** Every decision the agent takes on its own, with its reason (/api/v1/events). */
  readonly decisions: DecisionLog;
  /** Recent traffic per upstream and endpoint, read off the metrics (/api/v1/stats, the dashboard). */
  readonly traffic: TrafficStats;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly forwarders: ForwarderPool;
  private readonly inFlight: InFlightCounter;
  private readonly env: FrontendEnvironment;
  private readonly connectionBudget: ConnectionBudget;
  private readonly listenerLimits: ListenerLimits;
  private config: AgentConfig;
  /** Outbound upstreams by name. */
  private slots = new Map<string, UpstreamSlot>();
  /** Inbound services by name. */
  private services = new Map<string, ServiceSlot>();
  /** Outbound upstreams by routingName(name): what Host, :authority and CONNECT targets are matched against. */
  private routes = new Map<string, UpstreamSlot>();
  private readonly listeners = new Map<string, Listener>();
  private proxyFrontend: HttpFrontend | undefined;
  private admin: AdminServer | undefined;
  /** Membership, health checks and discovery; undefined without a gossip section. */
  private gossip: GossipRuntime | undefined;
  private ready = false;
  private draining = false;

  constructor(config: AgentConfig, deps: AgentDependencies) {
    this.config = config;
    this.logger = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? systemRandom;
    this.forwarders = new ForwarderPool(this.clock);
    this.decisions = new DecisionLog(this.clock, Date.now);
    this.decisions.subscribe((decision) => this.logger.info({ decision }, decision.reason));
    this.traffic = new TrafficStats(() => this.metrics.trafficHandles(), this.clock);
    this.inFlight = new InFlightCounter(config.listeners.maxRequestsInFlight);
    this.env = {
      clock: this.clock,
      accessLog: config.log.access ? new AccessLog(this.logger) : undefined,
      metrics: this.metrics,
      logger: this.logger,
      draining: () => this.draining,
      inFlight: this.inFlight,
      listeners: config.listeners,
      internalErrors: new InternalErrors(this.metrics, this.logger),
      dispatcher: composeSteps(
        [rateLimit, fallback, retryStep({ clock: this.clock, random: this.random, wallNow: Date.now }), hedgeStep(this.clock), transparentRetry, upstreamLimit, upstreamBreaker],
        new EndpointDispatcher(this.clock),
      ),
      replayBuffers: new ReplayBufferTracker(config.listeners.maxReplayBuffered),
    };
    const descriptorBudget = clientConnectionBudget(deps.descriptorLimit ?? openFilesSoftLimit());
    this.connectionBudget = new ConnectionBudget(Math.min(descriptorBudget, config.listeners.maxConnectionsTotal));
    this.listenerLimits = {
      maxConnections: config.listeners.maxConnections,
      budget: this.connectionBudget,
      rejected: (listener) => this.metrics.connectionRejected(listener),
    };
  }

  /** Starts every listener and the admin API; resolves once all are bound. */
  async start(): Promise<Record<string, string>> {
    this.traffic.start();
    this.admin = await startAdminServer({
      pages: dashboardPages({ source: 'agent' }),
      listen: this.config.admin.listen,
      metrics: this.metrics,
      logger: this.logger,
      decisions: this.decisions,
      clock: this.clock,
      token: () => this.config.admin.token,
      source: {
        isLive: () => true,
        isReady: () => this.ready && !this.draining,
        upstreams: () => [...[...this.slots.values()].map((slot) => slot.upstream.describe()), ...[...this.services.values()].map((slot) => slot.service.describe())],
        effectiveConfig: () => redactConfig(this.config),
        stats: () => this.stats(),
        breakers: () => [...this.slots.values()].flatMap((slot) => slot.upstream.describeBreakers() ?? []),
        forceBreaker: (name, endpoint, state) => this.slots.get(name)?.upstream.forceBreaker(endpoint, state) ?? 'no_upstream',
        members: () => this.gossip?.describe(),
        gossipKeys: () => this.gossip?.describeKeys(),
        changeGossipKey: (action, key) => this.gossip?.changeKey(action, key) ?? { ok: false, status: 404, error: 'gossip is not configured on this agent' },
      },
    });
    const failures = await this.commit(this.prepare(this.config));
    if (failures.length > 0) {
      throw new Error(failures.map((f) => `${f.listener} on ${f.address}: ${f.error}`).join('; '));
    }
    const { gossip } = this.config;
    if (gossip) {
      // Loaded only here: gossip, health checks and discovery bring protobufjs and grpc-js, about
      // 10 MiB of an idle agent's RSS that an agent without gossip should not pay.
      const { GossipRuntime } = await import('./gossip-runtime.ts');
      this.gossip = await GossipRuntime.start({ ...this.config, gossip }, {
        clock: this.clock,
        random: this.random,
        logger: this.logger,
        metrics: this.metrics.gossip,
        decisions: this.decisions,
        sink: (upstream, endpoints) => this.slots.get(upstream)?.upstream.setEndpoints(endpoints),
        boundPorts: () => this.servicePorts(),
        version: MESHLET_VERSION,
      });
    }
    this.ready = true;
    this.logger.info({ clientConnections: this.connectionBudget.limit, perListener: this.config.listeners.maxConnections }, 'connection caps');
    return this.listenerAddresses();
  }

  /** Each upstream's recent traffic next to its breakers and ejections, with their reasons. */
  stats(): NodeStats {
    const states = [...this.slots.values()].map(({ upstream }): UpstreamState => ({
      name: upstream.name,
      breaker: upstream.breakers.upstream?.describe() ?? null,
      endpoints: [...upstream.endpointStates()].map((s) => ({ address: s.address, health: s.endpoint.health, exclusions: s.exclusions.list(), breaker: s.breaker?.describe() ?? null })),
    }));
    return nodeStats({ node: this.config.node, atMs: Date.now(), traffic: this.traffic.read(), states, decisions: this.decisions.recent() });
  }

  /** The outbound upstreams in force, in config order. */
  upstreamsInForce(): Upstream[] {
    return [...this.slots.values()].map((slot) => slot.upstream);
  }

  listenerAddresses(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.admin) out.admin = formatHostPort(this.admin.address.host, this.admin.address.port);
    for (const [name, listener] of this.listeners) out[name] = listener.address;
    return out;
  }

  /**
   * Applies a new, already validated config: prepare, then commit. A config that cannot be
   * prepared (a picker its endpoints cannot be built for, say) rejects, and the old config
   * stays wholly in force. A listener that cannot be opened is reported, not fatal: the agent
   * keeps serving everything else (see commit).
   */
  async reload(config: AgentConfig): Promise<ListenerFailure[]> {
    const failures = await this.commit(this.prepare(config));
    const { gossip } = config;
    if (this.gossip && gossip) await this.gossip.reload({ ...config, gossip });
    return failures;
  }

  /**
   * Builds everything `config` needs that can fail (each changed upstream's settings and
   * picker) without putting any of it in force: no state changes, no socket opens. Throws,
   * naming the upstream, when something cannot be built; that is a rejected reload, and will
   * be the control plane's NACK.
   */
  prepare(config: AgentConfig): AgentPlan {
    const deps = { clock: this.clock, random: this.random };
    const upstreams = new Map<string, PlannedUpstream>();
    for (const upstream of config.upstreams) {
      const running = this.slots.get(upstream.name)?.upstream;
      if (running && sameConfig(running.config, upstream)) {
        upstreams.set(upstream.name, { config: upstream, change: undefined });
        continue;
      }
      try {
        upstreams.set(upstream.name, { config: upstream, change: prepareUpstream(upstream, deps, running) });
      } catch (err) {
        throw new Error(`upstream "${upstream.name}": ${(err as Error).message}`, { cause: err });
      }
    }
    const services = new Map<string, PlannedService>();
    for (const service of config.services) {
      const running = this.services.get(service.name)?.service;
      services.set(service.name, { config: service, change: running && sameConfig(running.config, service) ? undefined : prepareInbound(service, this.clock, this.random, running) });
    }
    return { config, upstreams, services };
  }

  /**
   * Puts a prepared config in force. The swap is synchronous and cannot fail: upstreams,
   * routes and the config change together, so no request sees half of it. Then listeners
   * are matched to it: opening a port is the one side effect that can still fail, and does
   * so per listener (reported, the rest applies), since prepare cannot try a port without
   * taking it. A listener moving to a new address closes before its new one opens.
   */
  async commit(plan: AgentPlan): Promise<ListenerFailure[]> {
    const { config } = plan;
    if (config.admin.listen.text !== this.config.admin.listen.text) {
      this.logger.warn({ field: 'admin.listen' }, 'admin.listen changed: takes effect after a restart');
    }
    if (JSON.stringify(config.listeners) !== JSON.stringify(this.config.listeners)) {
      this.logger.warn({ field: 'listeners' }, 'listeners changed: takes effect after a restart');
    }
    if (JSON.stringify(config.control) !== JSON.stringify(this.config.control)) {
      this.logger.warn({ field: 'control' }, 'control changed: takes effect after a restart');
    }
    if (JSON.stringify(config.gossip) !== JSON.stringify(this.config.gossip)) {
      this.logger.warn({ field: 'gossip' }, 'gossip changed: takes effect after a restart (rotate keys with /api/v1/gossip/keys)');
    }
    this.config = config;
    this.commitUpstreams(plan);
    // Before anything awaits: a rebuilt upstream holds only its static endpoints until discovery republishes to it.
    this.gossip?.upstreamsCommitted(config);
    this.commitServices(plan);
    return this.syncListeners(config);
  }

  /** Readiness false, stop accepting, let requests in flight finish up to the timeout. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    // Callers elsewhere stop sending before this agent stops accepting.
    await this.gossip?.announceDraining(timeoutMs / 2);
    for (const listener of this.listeners.values()) listener.stop();
    const frontends = this.frontends();
    for (const frontend of frontends) frontend.drain();
    const finished = await this.inFlight.whenIdle(timeoutMs, this.clock);
    if (!finished) for (const frontend of frontends) frontend.destroy();
    return finished;
  }

  async stop(): Promise<void> {
    await this.gossip?.stop();
    for (const listener of this.listeners.values()) listener.stop();
    const frontends = this.frontends();
    // After a clean drain the last responses may still be leaving: end connections gently first.
    for (const frontend of frontends) frontend.close();
    await this.forwarders.closeAll();
    this.traffic.stop();
    await this.admin?.close();
    // A client that stopped reading must not keep the process alive.
    for (const frontend of frontends) frontend.destroy();
  }

  /** The port each inbound service's listener took, for the gossip advertisement. */
  private servicePorts(): Map<string, number> {
    const ports = new Map<string, number>();
    for (const name of this.services.keys()) {
      const address = this.listeners.get(`service:${name}`)?.address;
      if (address !== undefined) ports.set(name, Number(address.slice(address.lastIndexOf(':') + 1)));
    }
    return ports;
  }

  private readonly onAcceptError = (listener: string, err: Error): void => {
    this.logger.error({ listener, err: err.message }, 'listener failed to accept a connection');
  };

  private frontends(): HttpFrontend<CallTarget>[] {
    const all: HttpFrontend<CallTarget>[] = [...this.slots.values()].map((slot) => slot.frontend);
    for (const slot of this.services.values()) all.push(slot.frontend);
    if (this.proxyFrontend) all.push(this.proxyFrontend);
    return all;
  }

  private commitUpstreams(plan: AgentPlan): void {
    const deps = { clock: this.clock, random: this.random, metrics: this.metrics, forwarders: this.forwarders, decisions: this.decisions, connectProbe: tcpConnectProbe };
    const next = new Map<string, UpstreamSlot>();
    for (const [name, planned] of plan.upstreams) {
      const slot = this.slots.get(name);
      if (slot) {
        if (planned.change) slot.upstream.commit(planned.change);
        next.set(name, slot);
        continue;
      }
      // A new name always has a change: nothing ran under it to be unchanged from.
      const upstream = new Upstream(planned.change!, deps);
      next.set(name, { upstream, frontend: new HttpFrontend(`upstream:${name}`, () => upstream, this.env) });
    }
    for (const [name, slot] of this.slots) {
      if (next.has(name)) continue;
      this.metrics.removeUpstream(name);
      slot.frontend.drain();
      slot.upstream.close();
    }
    this.slots = next;
    // Config refuses two upstream names with one routing name (cross-checks.ts).
    this.routes = new Map(plan.config.upstreams.map((upstream) => [routingName(upstream.name), next.get(upstream.name)!]));
    if (plan.config.proxy && !this.proxyFrontend) {
      this.proxyFrontend = new HttpFrontend(
        'proxy',
        (authority) => this.routes.get(routingName(authority))?.upstream,
        this.env,
        connectHandler((name) => this.routes.get(name)?.frontend, this.metrics, 'proxy'),
      );
    }
  }

  /**
   * An inbound service has a path of its own: its listener's calls pass its admission (rate
   * limit, concurrency limit) to its one local application, not the outbound steps.
   */
  private commitServices(plan: AgentPlan): void {
    const deps = { clock: this.clock, metrics: this.metrics, forwarders: this.forwarders, decisions: this.decisions };
    const next = new Map<string, ServiceSlot>();
    for (const [name, planned] of plan.services) {
      const slot = this.services.get(name);
      if (slot) {
        if (planned.change) slot.service.commit(planned.change);
        next.set(name, slot);
        continue;
      }
      const listener = `service:${name}`;
      const service = new InboundService(planned.change!, listener, deps);
      next.set(name, { service, frontend: new HttpFrontend<InboundService>(listener, () => service, { ...this.env, dispatcher: service.dispatcher }) });
    }
    for (const [name, slot] of this.services) {
      if (next.has(name)) continue;
      this.metrics.removeUpstream(slot.service.name);
      slot.frontend.drain();
      slot.service.close();
    }
    this.services = next;
  }

  /** Opens and closes listeners to match `config`; returns those that could not be opened. */
  private async syncListeners(config: AgentConfig): Promise<ListenerFailure[]> {
    const wanted = new Map<string, { listen: NonNullable<UpstreamConfig['listen']>; frontend: HttpFrontend<CallTarget> }>();
    if (config.proxy && this.proxyFrontend) wanted.set('proxy', { listen: config.proxy.listen, frontend: this.proxyFrontend });
    for (const upstream of config.upstreams) {
      if (upstream.listen) wanted.set(`upstream:${upstream.name}`, { listen: upstream.listen, frontend: this.slots.get(upstream.name)!.frontend });
    }
    for (const service of config.services) {
      wanted.set(`service:${service.name}`, { listen: service.listen, frontend: this.services.get(service.name)!.frontend });
    }
    for (const [name, listener] of this.listeners) {
      const want = wanted.get(name);
      if (want && want.listen.text === listener.listen.text) continue;
      listener.stop();
      this.listeners.delete(name);
      this.metrics.removeListener(name);
    }
    const failures: ListenerFailure[] = [];
    for (const [name, want] of wanted) {
      if (this.listeners.has(name)) continue;
      const listener = new Listener(name, want.listen, want.frontend, this.listenerLimits, this.onAcceptError);
      try {
        await listener.start();
      } catch (err) {
        failures.push({ listener: name, address: want.listen.text, error: (err as Error).message });
        continue;
      }
      this.listeners.set(name, listener);
      this.metrics.watchOpenConnections(name, () => listener.openConnections);
    }
    return failures;
  }
}
