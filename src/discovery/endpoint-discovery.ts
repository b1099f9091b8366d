// Membership in, endpoint lists out: after each membership change (or a change of this
// agent's own advertisement or of the upstreams in the config) every upstream's endpoints are
// worked out again and handed to the sink, which the agent connects to Upstream.setEndpoints,
// but only for an upstream whose list changed, so a gossip round that changes nothing
// publishes no new picker. Changes that arrive together (a push-pull merging many members)
// are worked out once, after the current task.

import type { Endpoint } from '../balancer/endpoint-set.ts';
import type { UpstreamConfig } from '../config/types.ts';
import type { MembershipView } from '../gossip/member.ts';
import { EMPTY_META, type MemberMeta } from '../gossip/messages.ts';
import { candidatesByService, staticEndpoints, upstreamEndpoints, type Candidate, type InstanceSource, type SkipReason } from './upstream-endpoints.ts';

export type EndpointSink = (upstream: string, endpoints: readonly Endpoint[]) => void;

export interface DiscoveryLogger {
  warn(fields: object, message: string): void;
}

export interface EndpointDiscoveryOptions {
  /** This agent's node name (config.node): its own instances carry it. */
  readonly node: string;
  readonly view: MembershipView;
  readonly upstreams: readonly UpstreamConfig[];
  readonly sink: EndpointSink;
  readonly logger: DiscoveryLogger;
}

/** Distinct (member, service) pairs warned about; a peer's advertisements cannot grow it without bound. */
const MAX_WARNED = 1024;

const SKIP_MESSAGE: Readonly<Record<SkipReason, string>> = {
  protocol: 'a discovered instance speaks another protocol than the upstream: skipped',
  address: 'a discovered instance advertises an address no agent can connect to: skipped',
};

export class EndpointDiscovery {
  private upstreams: readonly UpstreamConfig[] = [];
  /** Per upstream, what the sink was last given (or the upstream was committed with), as text. */
  private readonly published = new Map<string, string>();
  /** Per upstream, its config as text, to tell a changed one on setUpstreams. */
  private readonly configs = new Map<string, string>();
  private local: InstanceSource;
  private readonly warned = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  private scheduled = false;
  private closed = false;

  constructor(private readonly options: EndpointDiscoveryOptions) {
    this.local = { node: options.node, status: 'alive', meta: EMPTY_META };
    this.adopt(options.upstreams);
  }

  /** Follows the membership from now on, and publishes what it holds already. */
  start(): void {
    if (this.unsubscribe !== undefined || this.closed) return;
    this.unsubscribe = this.options.view.subscribe(() => this.schedule());
    this.refresh();
  }

  /** This agent's own advertisement (advertisedMeta): a caller of a service it hosts finds itself. */
  setLocal(meta: MemberMeta): void {
    this.local = { ...this.local, meta };
    this.refresh();
  }

  /**
   * The upstreams of a new config. One that is new or whose config changed is taken to hold
   * its static endpoints now, as the agent commits a changed upstream from config, so its
   * discovered endpoints are published to it again.
   */
  setUpstreams(upstreams: readonly UpstreamConfig[]): void {
    this.adopt(upstreams);
    this.refresh();
  }

  /** Works every upstream's endpoints out now and publishes those that changed. */
  refresh(): void {
    this.scheduled = false;
    if (this.closed) return;
    const byService = candidatesByService([this.local, ...this.options.view.members()]);
    for (const upstream of this.upstreams) {
      const endpoints = upstreamEndpoints(upstream, byService.get(upstream.name) ?? [], (c, u, why) => this.skipped(c, u, why));
      const text = JSON.stringify(endpoints);
      if (this.published.get(upstream.name) === text) continue;
      try {
        this.options.sink(upstream.name, endpoints);
        this.published.set(upstream.name, text);
      } catch (err) {
        // The upstream kept what it had (setEndpoints changes nothing when it throws); the next change tries again.
        this.options.logger.warn({ upstream: upstream.name, err }, 'discovered endpoints could not be published');
      }
    }
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
  }

  private adopt(upstreams: readonly UpstreamConfig[]): void {
    const names = new Set(upstreams.map((u) => u.name));
    for (const name of this.configs.keys()) {
      if (names.has(name)) continue;
      this.configs.delete(name);
      this.published.delete(name);
    }
    for (const upstream of upstreams) {
      const config = JSON.stringify(upstream);
      if (this.configs.get(upstream.name) === config) continue;
      this.configs.set(upstream.name, config);
      this.published.set(upstream.name, JSON.stringify(staticEndpoints(upstream)));
    }
    this.upstreams = upstreams;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      if (this.scheduled) this.refresh();
    });
  }

  private skipped({ source, instance }: Candidate, upstream: UpstreamConfig, why: SkipReason): void {
    const key = `${why}\0${source.node}\0${instance.name}`;
    if (this.warned.has(key)) return;
    if (this.warned.size >= MAX_WARNED) this.warned.delete(this.warned.values().next().value!);
    this.warned.add(key);
    this.options.logger.warn(
      { upstream: upstream.name, node: source.node, service: instance.name, address: instance.address, protocol: instance.protocol, expected: upstream.protocol },
      SKIP_MESSAGE[why],
    );
  }
}
