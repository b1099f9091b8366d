// An Upstream on a fake clock with seeded dice and a forwarder pool whose forwarders record
// what they are sent, for the fast tier: no sockets, no real time.

import { Writable } from 'node:stream';
import type { Endpoint } from '../../../src/balancer/endpoint-set.ts';
import { FakeClock } from '../../../src/clock.ts';
import { DEFAULT_POLICY } from '../../../src/config/defaults.ts';
import type { PolicyConfig, UpstreamConfig } from '../../../src/config/types.ts';
import { InternalErrors } from '../../../src/observability/internal-errors.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { MeshletMetrics } from '../../../src/observability/metrics.ts';
import type { ProxyError } from '../../../src/proxy/errors.ts';
import type { ProxiedRequest } from '../../../src/proxy/call/proxied-request.ts';
import type { ProxyCall } from '../../../src/proxy/call/proxy-call.ts';
import type { ResponseEnding, ResponseSink } from '../../../src/proxy/call/response-sink.ts';
import type { Forwarder, ForwarderSettings } from '../../../src/proxy/forward/forwarder.ts';
import { SharedForwarder } from '../../../src/proxy/forward/forwarder-lease.ts';
import type { ForwarderPool, ForwarderTarget } from '../../../src/proxy/forward/forwarder-pool.ts';
import { prepareUpstream, Upstream } from '../../../src/proxy/upstream/upstream.ts';
import { mulberry32 } from '../balancer/fixtures.ts';

export function upstreamConfig(addresses: readonly string[], policy: Partial<PolicyConfig> = {}): UpstreamConfig {
  return {
    name: 'catalog',
    protocol: 'http',
    endpoints: addresses.map((address) => {
      const [host = '', port = '0'] = address.split(':');
      return { address, host, port: Number(port), weight: 1, backup: false, metadata: {} };
    }),
    policy: { ...DEFAULT_POLICY, ...policy },
  };
}

export function endpointOf(address: string, health: Endpoint['health'] = 'unknown'): Endpoint {
  const [host = '', port = '0'] = address.split(':');
  return { address, host, port: Number(port), weight: 1, backup: false, metadata: {}, health };
}

/** Takes every call it is sent and keeps it, unanswered. */
export class RecordingForwarder implements Forwarder {
  readonly calls: ProxyCall[] = [];
  readonly settings: ForwarderSettings[] = [];
  closed = false;

  constructor(readonly target: ForwarderTarget) {}

  forward(call: ProxyCall): void {
    this.calls.push(call);
  }

  applySettings(settings: ForwarderSettings): void {
    this.settings.push(settings);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** A ForwarderPool of RecordingForwarders, one per lease key as the real pool has. */
export class RecordingPool {
  readonly made: RecordingForwarder[] = [];
  private readonly shared = new Map<string, SharedForwarder>();

  lease(target: ForwarderTarget, settings: ForwarderSettings) {
    const key = `${target.transport}|${target.host}|${target.port}|${JSON.stringify(target.connections)}`;
    let shared = this.shared.get(key);
    if (!shared) {
      const forwarder = new RecordingForwarder(target);
      this.made.push(forwarder);
      shared = new SharedForwarder(forwarder, () => {
        this.shared.delete(key);
        void forwarder.close();
      });
      this.shared.set(key, shared);
    }
    return shared.lease(settings);
  }
}

export interface UpstreamHarness {
  readonly clock: FakeClock;
  readonly metrics: MeshletMetrics;
  readonly pool: RecordingPool;
  readonly deps: ConstructorParameters<typeof Upstream>[1];
  build(config: UpstreamConfig): Upstream;
}

export function upstreamHarness(seed = 1): UpstreamHarness {
  const clock = new FakeClock();
  const metrics = new MeshletMetrics();
  const pool = new RecordingPool();
  const deps = { clock, random: mulberry32(seed), metrics, forwarders: pool as unknown as ForwarderPool };
  return { clock, metrics, pool, deps, build: (config) => new Upstream(prepareUpstream(config, deps), deps) };
}

export const request: ProxiedRequest = { method: 'GET', path: '/', authority: 'catalog', headers: [], body: null, grpc: false, sourceAddress: '127.0.0.1', multiplexed: false };

/** Records what the client would have been told. */
export class RecordingSink implements ResponseSink {
  headersSent = false;
  bytesSent = 0;
  readonly body = new Writable({ write: (_chunk, _encoding, done) => done() });
  readonly failures: string[] = [];
  status = 0;

  start(status: number): boolean {
    this.headersSent = true;
    this.status = status;
    return true;
  }

  finish(_trailers: unknown, ending: ResponseEnding): void {
    ending.responseSent();
  }

  reset(): void {}

  fail(error: ProxyError): void {
    this.failures.push(`${error.httpStatus} ${error.code}`);
  }
}

export function callEnvironment(clock: FakeClock, metrics: MeshletMetrics) {
  const logger = createLogger({ level: 'silent', name: 'upstream-test' });
  return { clock, accessLog: undefined, internalErrors: new InternalErrors(metrics, logger) };
}
