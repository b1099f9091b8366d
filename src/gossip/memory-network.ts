// An in-memory network for the simulations, driven by a (fake) Clock and a seeded Random so a
// failing run replays exactly. Every link has a loss probability and a delay of base plus
// random jitter (so packets reorder); members can be split into partitions, killed (all their
// traffic stops both ways, as kill -9) or slowed (every handler runs late, as on a lagging
// event loop). Exchanges obey the same rules and time out like a stream would.

import type { Clock, Random } from '../clock.ts';
import type { Transport, TransportHandlers } from './transport.ts';

export interface MemoryNetworkOptions {
  /** One-way delay: base plus uniform jitter in [0, jitterMs). */
  readonly delayMs?: number;
  readonly jitterMs?: number;
  /** Probability that a datagram is lost on any link (exchanges ride a stream and are not). */
  readonly loss?: number;
  readonly maxPacketSize?: number;
}

export interface TrafficCounters {
  packetsSent: number;
  packetsDelivered: number;
  packetsDropped: number;
  bytesSent: number;
  bytesDelivered: number;
  exchanges: number;
}

interface Endpoint {
  handlers: TransportHandlers | undefined;
  readonly counters: TrafficCounters;
  closed: boolean;
  killed: boolean;
  lagMs: number;
  /** A lag reporter runs (one per member, however often slow() is called). */
  lagReported: boolean;
  group: number;
}

export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
}

function zeroCounters(): TrafficCounters {
  return { packetsSent: 0, packetsDelivered: 0, packetsDropped: 0, bytesSent: 0, bytesDelivered: 0, exchanges: 0 };
}

export class MemoryNetwork {
  readonly total: TrafficCounters = zeroCounters();
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly linkLoss = new Map<string, number>();
  private readonly delayMs: number;
  private readonly jitterMs: number;
  private readonly maxPacketSize: number;
  private loss: number;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    options: MemoryNetworkOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 1;
    this.jitterMs = options.jitterMs ?? 2;
    this.loss = options.loss ?? 0;
    this.maxPacketSize = options.maxPacketSize ?? 1400;
  }

  /** A Transport for the member at `address`; one per address. */
  transport(address: string): Transport {
    if (this.endpoints.has(address)) throw new Error(`${address} is already on the network`);
    return this.attach(address);
  }

  /** A process restarted at the same address: the old one's traffic is gone, a fresh Transport takes over. */
  restart(address: string): Transport {
    const old = this.endpoint(address);
    old.killed = true;
    old.handlers = undefined;
    this.endpoints.delete(address);
    return this.attach(address);
  }

  private attach(address: string): Transport {
    const endpoint: Endpoint = { handlers: undefined, counters: zeroCounters(), closed: false, killed: false, lagMs: 0, lagReported: false, group: 0 };
    this.endpoints.set(address, endpoint);
    return {
      localAddress: address,
      maxPacketSize: this.maxPacketSize,
      listen: async (handlers) => {
        endpoint.handlers = handlers;
      },
      sendPacket: (to, data) => this.sendPacket(address, to, data),
      exchange: (to, request, timeoutMs) => this.exchange(address, to, request, timeoutMs),
      close: async () => {
        endpoint.closed = true;
        endpoint.handlers = undefined;
      },
    };
  }

  counters(address: string): TrafficCounters {
    return this.endpoint(address).counters;
  }

  setLoss(probability: number): void {
    this.loss = probability;
  }

  /** Loss on the link between `a` and `b`, both ways, instead of the network's. */
  setLinkLoss(a: string, b: string, probability: number): void {
    this.linkLoss.set(linkKey(a, b), probability);
  }

  /** Members in different groups cannot reach each other; members in no group form one more. */
  partition(groups: readonly (readonly string[])[]): void {
    for (const endpoint of this.endpoints.values()) endpoint.group = 0;
    groups.forEach((members, i) => {
      for (const address of members) this.endpoint(address).group = i + 1;
    });
  }

  heal(): void {
    this.partition([]);
  }

  /** As kill -9: nothing more goes in or out, and it never answers again. */
  kill(address: string): void {
    this.endpoint(address).killed = true;
  }

  /**
   * Every packet and exchange this member receives is handled `lagMs` late (0: on time
   * again); `noteLag`, when given, is told the current lag once a second until the member is
   * closed or killed, as the agent's event-loop monitor would, 0 included.
   */
  slow(address: string, lagMs: number, noteLag?: (ms: number) => void): void {
    const endpoint = this.endpoint(address);
    endpoint.lagMs = lagMs;
    if (noteLag && !endpoint.lagReported) {
      endpoint.lagReported = true;
      const timer = this.clock.setInterval(() => {
        if (endpoint.closed || endpoint.killed) this.clock.clearInterval(timer);
        else noteLag(endpoint.lagMs);
      }, 1000);
    }
  }

  private endpoint(address: string): Endpoint {
    const endpoint = this.endpoints.get(address);
    if (!endpoint) throw new Error(`${address} is not on the network`);
    return endpoint;
  }

  private reachable(from: Endpoint, to: Endpoint | undefined): to is Endpoint {
    return to !== undefined && !from.killed && !from.closed && !to.killed && !to.closed && from.group === to.group;
  }

  private delay(): number {
    return this.delayMs + this.random() * this.jitterMs;
  }

  private sendPacket(fromAddress: string, to: string, data: Uint8Array): void {
    const from = this.endpoint(fromAddress);
    if (from.killed || from.closed) return;
    from.counters.packetsSent++;
    from.counters.bytesSent += data.length;
    this.total.packetsSent++;
    this.total.bytesSent += data.length;
    const target = this.endpoints.get(to);
    const loss = this.linkLoss.get(linkKey(fromAddress, to)) ?? this.loss;
    if (data.length > this.maxPacketSize || !this.reachable(from, target) || (loss > 0 && this.random() < loss)) {
      this.dropped(from);
      return;
    }
    this.clock.setTimeout(() => {
      if (!this.reachable(from, target) || !target.handlers) {
        this.dropped(from);
        return;
      }
      target.counters.packetsDelivered++;
      target.counters.bytesDelivered += data.length;
      this.total.packetsDelivered++;
      this.total.bytesDelivered += data.length;
      const handlers = target.handlers;
      if (target.lagMs > 0) this.clock.setTimeout(() => target.handlers === handlers && handlers.packet(fromAddress, data), target.lagMs);
      else handlers.packet(fromAddress, data);
    }, this.delay());
  }

  private dropped(from: Endpoint): void {
    from.counters.packetsDropped++;
    this.total.packetsDropped++;
  }

  private exchange(fromAddress: string, to: string, request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const from = this.endpoint(fromAddress);
    const target = this.endpoints.get(to);
    from.counters.exchanges++;
    this.total.exchanges++;
    return new Promise<Uint8Array>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(timer);
        outcome();
      };
      const timer = this.clock.setTimeout(() => settle(() => reject(new ExchangeError(`exchange with ${to} timed out after ${timeoutMs} ms`))), timeoutMs);
      if (!this.reachable(from, target)) {
        // A refused or unroutable connect fails fast only when the host is up and says so;
        // a killed or cut-off host leaves the caller waiting for its timeout, as TCP would.
        return;
      }
      const deliver = () => {
        const handlers = target.handlers;
        if (!this.reachable(from, target) || !handlers) return;
        handlers.exchange(fromAddress, request).then(
          (answer) => {
            if (answer === undefined) return settle(() => reject(new ExchangeError(`${to} closed the stream with no answer`)));
            this.clock.setTimeout(() => {
              if (this.reachable(from, target)) settle(() => resolve(answer));
            }, this.delay());
          },
          (err: unknown) => settle(() => reject(err)),
        );
      };
      this.clock.setTimeout(deliver, this.delay() + target.lagMs);
    });
  }
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
