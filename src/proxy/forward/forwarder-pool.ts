// Forwarders keyed by what their connections depend on (transport, host, port, connection
// limits), shared by every upstream that names the same endpoint and leased, not swept: a
// forwarder lives while some endpoint state holds a lease on it, so warm connections outlive
// any reload or endpoint update that keeps the endpoint. The connect timeout is not in the key:
// changing it reconnects nothing (see ForwarderSettings).

import type { Clock } from '../../clock.ts';
import type { ConnectionsConfig } from '../../config/types.ts';
import type { ForwarderSettings } from './forwarder.ts';
import { ForwarderLease, SharedForwarder } from './forwarder-lease.ts';
import { Http1Forwarder } from './http1-forwarder.ts';
import { Http2Forwarder } from './http2-forwarder.ts';

export type Transport = 'h1' | 'h2';

export interface ForwarderTarget {
  readonly transport: Transport;
  readonly host: string;
  readonly port: number;
  readonly connections: ConnectionsConfig;
}

export class ForwarderPool {
  private readonly shared = new Map<string, SharedForwarder>();
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly clock: Clock) {}

  lease(target: ForwarderTarget, settings: ForwarderSettings): ForwarderLease {
    const key = keyOf(target);
    let shared = this.shared.get(key);
    if (shared === undefined) {
      const { transport, host, port, connections } = target;
      const options = { host, port, connectTimeoutMs: settings.connectTimeoutMs, connections, clock: this.clock };
      shared = new SharedForwarder(transport === 'h1' ? new Http1Forwarder(options) : new Http2Forwarder(options), (unused) => this.retire(key, unused));
      this.shared.set(key, shared);
    }
    return shared.lease(settings);
  }

  /** Closes every forwarder, leased or not (the agent is stopping); in-flight requests finish. */
  async closeAll(): Promise<void> {
    const all = [...this.shared.values()].map((shared) => shared.forwarder.close());
    this.shared.clear();
    await Promise.all([...all, ...this.closing]);
  }

  private retire(key: string, shared: SharedForwarder): void {
    if (this.shared.get(key) === shared) this.shared.delete(key);
    const closed = shared.forwarder.close().finally(() => this.closing.delete(closed));
    this.closing.add(closed);
  }
}

function keyOf({ transport, host, port, connections: c }: ForwarderTarget): string {
  return `${transport}|${host}|${port}|${c.maxPerEndpoint}|${c.maxStreamsPerConnection}|${c.maxQueued}|${c.streamWindow}`;
}
