// grpc: "name" or true — grpc.health.v1.Health/Check for the service name ("" for the server
// as a whole, as true means). SERVING passes; any other status or error fails. The channel is
// kept from check to check, as a gRPC client would keep it, so a check is one stream on an
// open connection rather than a new connection each time.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../clock.ts';
import { formatHostPort } from '../config/address.ts';
import type { HealthCheckConfig, HostPort } from '../config/types.ts';
import { boundedCheck, failed, passed, type CheckResult, type HealthChecker } from './check-result.ts';

// src/health and dist/health are both two levels below the package root, where proto/ is.
const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));

/** grpc-js's details can carry a whole server message; a transition reason stays one line. */
const MAX_DETAILS = 160;

type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface HealthClient extends grpc.Client {
  Check(
    request: { service: string }, metadata: grpc.Metadata, options: grpc.CallOptions,
    callback: grpc.requestCallback<{ status: ServingStatus }>,
  ): grpc.ClientUnaryCall;
}

let healthClient: grpc.ServiceClientConstructor | undefined;

function healthClientConstructor(): grpc.ServiceClientConstructor {
  if (healthClient === undefined) {
    const definition = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [PROTO_ROOT], defaults: true, enums: String });
    const root = grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
    healthClient = root.grpc.health.v1.Health;
  }
  return healthClient;
}

export class GrpcChecker implements HealthChecker {
  private readonly client: HealthClient;

  constructor(
    target: HostPort,
    private readonly service: string,
    private readonly config: Pick<HealthCheckConfig, 'interval' | 'timeout'>,
    private readonly clock: Clock,
  ) {
    const Health = healthClientConstructor();
    // grpc-js backs off reconnecting up to 2 minutes; a service back up must be seen within an interval.
    const options: grpc.ChannelOptions = {
      'grpc.initial_reconnect_backoff_ms': Math.min(1000, config.interval),
      'grpc.max_reconnect_backoff_ms': config.interval,
    };
    this.client = new Health(formatHostPort(target.host, target.port), grpc.credentials.createInsecure(), options) as unknown as HealthClient;
  }

  check(signal: AbortSignal): Promise<CheckResult> {
    return boundedCheck({ clock: this.clock, timeoutMs: this.config.timeout, signal }, (settle) => {
      const call = this.client.Check({ service: this.service }, new grpc.Metadata(), {}, (err, response) => {
        if (err) settle(failed(callErrorReason(err)));
        else if (response?.status === 'SERVING') settle(passed('SERVING'));
        else settle(failed(response?.status ?? 'UNKNOWN'));
      });
      // The timeout runs on the injected clock, so it cancels the call itself.
      return () => call.cancel();
    });
  }

  close(): void {
    this.client.close();
  }
}

function callErrorReason(err: grpc.ServiceError): string {
  const name = grpc.status[err.code] ?? String(err.code);
  const details = err.details.length > MAX_DETAILS ? `${err.details.slice(0, MAX_DETAILS)}…` : err.details;
  return details === '' ? `gRPC ${name}` : `gRPC ${name}: ${details}`;
}
