// Forwarders keyed by protocol, address, connect timeout and connection limits, shared by every upstream that
// names the same endpoint and kept across reloads, so a reload never drops warm connections.
// release() after a reload closes (gracefully) the ones no upstream uses any more.

import type { Clock } from '../../clock.ts';
import type { PolicyConfig, Protocol } from '../../config/types.ts';
import type { Endpoint } from '../../balancer/endpoint-set.ts';
import type { Forwarder } from './forwarder.ts';
import { Http1Forwarder } from './http1-forwarder.ts';
import { Http2Forwarder } from './http2-forwarder.ts';

export class ForwarderPool {
  private readonly forwarders = new Map<string, Forwarder>();
  private readonly inUse = new Set<string>();

  constructor(private readonly clock: Clock) {}

  acquire(protocol: Protocol, endpoint: Endpoint, policy: Pick<PolicyConfig, 'connectTimeout' | 'connections'>): Forwarder {
    const transport = protocol === 'http' ? 'h1' : 'h2';
    const { connectTimeout: connectTimeoutMs, connections } = policy;
    const limits = `${connections.maxPerEndpoint}|${connections.maxStreamsPerConnection}|${connections.maxQueued}|${connections.streamWindow}`;
    const key = `${transport}|${endpoint.host}|${endpoint.port}|${connectTimeoutMs}|${limits}`;
    this.inUse.add(key);
    let forwarder = this.forwarders.get(key);
    if (!forwarder) {
      const options = { host: endpoint.host, port: endpoint.port, connectTimeoutMs, connections, clock: this.clock };
      forwarder = transport === 'h1' ? new Http1Forwarder(options) : new Http2Forwarder(options);
      this.forwarders.set(key, forwarder);
    }
    return forwarder;
  }

  /** Call before building a new generation of upstreams; then sweep() after. */
  beginGeneration(): void {
    this.inUse.clear();
  }

  /** Closes forwarders the current generation did not acquire; their in-flight requests finish. */
  sweep(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, forwarder] of this.forwarders) {
      if (this.inUse.has(key)) continue;
      this.forwarders.delete(key);
      closing.push(forwarder.close());
    }
    return Promise.all(closing).then(() => undefined);
  }

  closeAll(): Promise<void> {
    this.inUse.clear();
    return this.sweep();
  }
}
