// The composition root: builds an agent from its config, starts its listeners, applies
// reloads without tearing requests in flight, and drains on shutdown.

import type { Logger } from 'pino';
import { systemClock, systemRandom, type Clock, type Random } from '../clock.ts';
import type { AgentConfig, ServiceConfig, UpstreamConfig } from '../config/types.ts';
import { formatHostPort } from '../config/address.ts';
import { DEFAULT_POLICY } from '../config/defaults.ts';
import { redactConfig } from '../config/redact.ts';
import { startAdminServer, type AdminServer } from '../observability/admin-server.ts';
import { InternalErrors } from '../observability/internal-errors.ts';
import { AccessLog } from '../observability/logger.ts';
import { MeshletMetrics } from '../observability/metrics.ts';
import { clientConnectionBudget, ConnectionBudget } from '../proxy/listen/connection-budget.ts';
import { ForwarderPool } from '../proxy/forward/forwarder-pool.ts';
import { composeSteps } from '../proxy/call/attempt.ts';
import { EndpointDispatcher } from '../proxy/call/endpoint-step.ts';
import { ReplayBufferTracker } from '../proxy/call/replay-buffer-tracker.ts';
import { transparentRetry } from '../resilience/transparent-retry.ts';
import { HttpFrontend, type FrontendEnvironment } from '../proxy/listen/frontend.ts';
import { Listener, type ListenerLimits } from '../proxy/listen/listener.ts';
import { routingName } from '../proxy/route/authority.ts';
import { connectHandler } from '../proxy/listen/tunnel.ts';
import { UpstreamRuntime } from '../proxy/upstream/upstream.ts';
import { InFlightCounter } from '../proxy/listen/in-flight.ts';
import { openFilesSoftLimit } from './descriptor-limit.ts';

/** An upstream's current runtime plus the frontend its port and CONNECT tunnels feed. */
interface UpstreamSlot {
  runtime: UpstreamRuntime;
  readonly frontend: HttpFrontend;
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

/** Local services are fronted like upstreams with one endpoint: the local application. */
function inboundUpstream(service: ServiceConfig): UpstreamConfig {
  return {
    name: `inbound:${service.name}`,
    protocol: service.protocol,
    listen: service.listen,
    endpoints: [{ address: service.target.text, host: service.target.host, port: service.target.port, weight: 1, backup: false, metadata: {} }],
    policy: DEFAULT_POLICY,
  };
}

function sameConfig(a: UpstreamConfig, b: UpstreamConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class Agent {
  readonly metrics = new MeshletMetrics();
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly forwarders: ForwarderPool;
  private readonly inFlight: InFlightCounter;
  private readonly env: FrontendEnvironment;
  private readonly connectionBudget: ConnectionBudget;
  private readonly listenerLimits: ListenerLimits;
  private config: AgentConfig;
  /** Outbound upstreams by name; inbound services by "inbound:<name>". */
  private slots = new Map<string, UpstreamSlot>();
  /** Outbound upstreams by routingName(name): what Host, :authority and CONNECT targets are matched against. */
  private routes = new Map<string, UpstreamSlot>();
  private readonly listeners = new Map<string, Listener>();
  private proxyFrontend: HttpFrontend | undefined;
  private admin: AdminServer | undefined;
  private ready = false;
  private draining = false;

  constructor(config: AgentConfig, deps: AgentDependencies) {
    this.config = config;
    this.logger = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? systemRandom;
    this.forwarders = new ForwarderPool(this.clock);
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
      dispatcher: composeSteps([transparentRetry], new EndpointDispatcher(this.clock)),
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
    this.admin = await startAdminServer({
      listen: this.config.admin.listen,
      metrics: this.metrics,
      logger: this.logger,
      source: {
        isLive: () => true,
        isReady: () => this.ready && !this.draining,
        upstreams: () => [...this.slots.values()].map((slot) => slot.runtime.describe()),
        effectiveConfig: () => redactConfig(this.config),
      },
    });
    this.buildSlots(this.config);
    const failures = await this.syncListeners(this.config);
    if (failures.length > 0) {
      throw new Error(failures.map((f) => `${f.listener} on ${f.address}: ${f.error}`).join('; '));
    }
    this.ready = true;
    this.logger.info({ clientConnections: this.connectionBudget.limit, perListener: this.config.listeners.maxConnections }, 'connection caps');
    return this.listenerAddresses();
  }

  listenerAddresses(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.admin) out.admin = formatHostPort(this.admin.address.host, this.admin.address.port);
    for (const [name, listener] of this.listeners) out[name] = listener.address;
    return out;
  }

  /**
   * Applies a new, already validated config. Unchanged upstreams keep their runtime (pools,
   * picker state); changed ones get a new runtime that inherits load state; requests in flight
   * finish on the objects they started with. A listener that cannot be opened is reported,
   * not fatal: the agent keeps serving everything else.
   */
  async reload(config: AgentConfig): Promise<ListenerFailure[]> {
    if (config.admin.listen.text !== this.config.admin.listen.text) {
      this.logger.warn({ field: 'admin.listen' }, 'admin.listen changed: takes effect after a restart');
    }
    if (JSON.stringify(config.listeners) !== JSON.stringify(this.config.listeners)) {
      this.logger.warn({ field: 'listeners' }, 'listeners changed: takes effect after a restart');
    }
    this.config = config;
    this.buildSlots(config);
    const failures = await this.syncListeners(config);
    void this.forwarders.sweep();
    return failures;
  }

  /** Readiness false, stop accepting, let requests in flight finish up to the timeout. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    for (const listener of this.listeners.values()) listener.stop();
    const frontends = this.frontends();
    for (const frontend of frontends) frontend.drain();
    const finished = await this.inFlight.whenIdle(timeoutMs, this.clock);
    if (!finished) for (const frontend of frontends) frontend.destroy();
    return finished;
  }

  async stop(): Promise<void> {
    for (const listener of this.listeners.values()) listener.stop();
    const frontends = this.frontends();
    // After a clean drain the last responses may still be leaving: end connections gently first.
    for (const frontend of frontends) frontend.close();
    await this.forwarders.closeAll();
    await this.admin?.close();
    // A client that stopped reading must not keep the process alive.
    for (const frontend of frontends) frontend.destroy();
  }

  private readonly onAcceptError = (listener: string, err: Error): void => {
    this.logger.error({ listener, err: err.message }, 'listener failed to accept a connection');
  };

  private frontends(): HttpFrontend[] {
    const all = [...this.slots.values()].map((slot) => slot.frontend);
    if (this.proxyFrontend) all.push(this.proxyFrontend);
    return all;
  }

  private buildSlots(config: AgentConfig): void {
    const deps = { clock: this.clock, random: this.random, metrics: this.metrics, forwarders: this.forwarders };
    // Each with the name of the listener its own port has, which its frontend's metrics carry.
    const wanted: [UpstreamConfig, string][] = [
      ...config.upstreams.map((upstream): [UpstreamConfig, string] => [upstream, `upstream:${upstream.name}`]),
      ...config.services.map((service): [UpstreamConfig, string] => [inboundUpstream(service), `service:${service.name}`]),
    ];
    const next = new Map<string, UpstreamSlot>();
    this.forwarders.beginGeneration();
    for (const [upstream, listenerName] of wanted) {
      const slot = this.slots.get(upstream.name);
      if (slot && sameConfig(slot.runtime.config, upstream)) {
        // Re-acquire so the sweep keeps this upstream's forwarders.
        for (const endpoint of slot.runtime.set.endpoints) this.forwarders.acquire(upstream.protocol, endpoint, upstream.policy);
        next.set(upstream.name, slot);
        continue;
      }
      const runtime = new UpstreamRuntime(upstream, deps, slot?.runtime);
      if (slot) {
        for (const endpoint of slot.runtime.set.endpoints) {
          if (!runtime.set.endpoints.some((e) => e.address === endpoint.address)) this.metrics.removeEndpoint(upstream.name, endpoint.address);
        }
        slot.runtime = runtime;
        next.set(upstream.name, slot);
      } else {
        const created: UpstreamSlot = {
          runtime,
          frontend: new HttpFrontend(listenerName, () => created.runtime, this.env),
        };
        next.set(upstream.name, created);
      }
    }
    for (const [name, slot] of this.slots) {
      if (next.has(name)) continue;
      this.metrics.removeUpstream(name);
      slot.frontend.drain();
    }
    this.slots = next;
    // Config refuses two upstream names with one routing name (cross-checks.ts).
    this.routes = new Map(config.upstreams.map((upstream) => [routingName(upstream.name), next.get(upstream.name)!]));
    if (config.proxy && !this.proxyFrontend) {
      this.proxyFrontend = new HttpFrontend(
        'proxy',
        (authority) => this.routes.get(routingName(authority))?.runtime,
        this.env,
        connectHandler((name) => this.routes.get(name)?.frontend, this.metrics, 'proxy'),
      );
    }
  }

  /** Opens and closes listeners to match `config`; returns those that could not be opened. */
  private async syncListeners(config: AgentConfig): Promise<ListenerFailure[]> {
    const wanted = new Map<string, { listen: NonNullable<UpstreamConfig['listen']>; frontend: HttpFrontend }>();
    if (config.proxy && this.proxyFrontend) wanted.set('proxy', { listen: config.proxy.listen, frontend: this.proxyFrontend });
    for (const upstream of config.upstreams) {
      if (upstream.listen) wanted.set(`upstream:${upstream.name}`, { listen: upstream.listen, frontend: this.slots.get(upstream.name)!.frontend });
    }
    for (const service of config.services) {
      wanted.set(`service:${service.name}`, { listen: service.listen, frontend: this.slots.get(`inbound:${service.name}`)!.frontend });
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
