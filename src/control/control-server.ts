// `meshlet control`'s gRPC server: the Control service, grpc.health.v1 and server reflection
// (so grpc_health_probe and grpcurl work against it), with limits on message size, streams per
// connection and keepalive, over plain TCP, TLS, or mTLS. Health and reflection take no token:
// probes often cannot send one, and reflection describes only the public proto.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { Clock } from '../clock.ts';
import type { Logger } from '../observability/logger.ts';
import { DEFAULT_CONNECT_LIMITS } from './agent-connection.ts';
import type { TokenAuth } from './control-auth.ts';
import { ControlMetrics } from './control-metrics.ts';
import { controlProto, controlServiceName, loaderOptions } from './control-proto.ts';
import { ControlService, type ControlServiceLimits } from './control-service.ts';
import { SOLE_REPLICA, type Leadership } from './leadership.ts';
import type { PolicyStore } from './policy-store.ts';

export const DEFAULT_SERVICE_LIMITS: ControlServiceLimits = {
  ...DEFAULT_CONNECT_LIMITS,
  maxAgents: 10_000,
  maxPendingStreams: 1_000,
  retainDisconnectedMs: 10 * 60_000,
  maxWatchers: 1_000,
  maxWatcherBacklog: 1_000,
};

/** Transport limits; every stream and message the server holds is bounded by these. */
export const GRPC_SERVER_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  // ListAgents of a large mesh with its reports; clients raise their receive limit to match.
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  // An agent holds one stream, an operator a few; more on one connection is a flood.
  'grpc.max_concurrent_streams': 100,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  // A connection that has carried no call for this long is closed (a flood of idle sockets).
  'grpc.max_connection_idle_ms': 5 * 60_000,
};

export interface ControlTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** With a client CA, clients must present a certificate it signed (mTLS). */
  readonly clientCa?: Buffer;
}

export interface ControlServerOptions {
  /** "host:port"; port 0 picks one. */
  readonly listen: string;
  readonly tls?: ControlTls;
  readonly store: PolicyStore;
  /** Which replica serves agents; default: this one, the only one. */
  readonly leadership?: Leadership;
  readonly auth: TokenAuth;
  readonly clock: Clock;
  readonly wallNow: () => number;
  readonly logger: Logger;
  readonly limits?: Partial<ControlServiceLimits>;
}

export interface RunningControlServer {
  /** The bound "host:port". */
  readonly address: string;
  readonly service: ControlService;
  readonly metrics: ControlMetrics;
  /** Stops taking calls, ends agent streams, waits up to graceMs for calls in flight. */
  close(graceMs?: number): Promise<void>;
}

export async function startControlServer(options: ControlServerOptions): Promise<RunningControlServer> {
  const limits: ControlServiceLimits = { ...DEFAULT_SERVICE_LIMITS, ...options.limits };
  const leadership = options.leadership ?? SOLE_REPLICA;
  // The gauges are read at scrape time, when `service` exists.
  const metrics: ControlMetrics = new ControlMetrics({
    agentsConnected: () => service.registry.connectedCount(),
    agentsKnown: () => service.registry.size,
    watchers: () => service.watchers.size,
    policyVersion: () => options.store.current().version,
    leader: () => (leadership.isLeader() ? 1 : 0),
  });
  const service: ControlService = new ControlService({ store: options.store, leadership, auth: options.auth, metrics, clock: options.clock, wallNow: options.wallNow, logger: options.logger, limits });

  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  const proto = controlProto();
  server.addService(proto.service, service.handlers());
  const health = new HealthImplementation({ '': 'SERVING', [controlServiceName]: 'SERVING' });
  health.addToServer(server);
  const healthDefinition = protoLoader.loadSync(healthProtoPath, loaderOptions);
  new ReflectionService({ ...proto.definition, ...healthDefinition }).addToServer(server);

  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(options.tls.clientCa ?? null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], options.tls.clientCa !== undefined)
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listen, credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  const host = options.listen.slice(0, options.listen.lastIndexOf(':'));
  const address = `${host}:${port}`;

  return {
    address,
    service,
    metrics,
    close: async (graceMs = 5_000) => {
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(controlServiceName, 'NOT_SERVING');
      service.close();
      await new Promise<void>((resolve) => {
        const timer = options.clock.setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          options.clock.clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
