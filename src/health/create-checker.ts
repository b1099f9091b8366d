// The checker a service's health block asks for (the schema allows exactly one kind).

import type { Clock } from '../clock.ts';
import type { HealthCheckConfig, HostPort } from '../config/types.ts';
import type { HealthChecker } from './check-result.ts';
import { GrpcChecker } from './grpc-checker.ts';
import { HttpChecker } from './http-checker.ts';
import { TcpChecker } from './tcp-checker.ts';

export function createChecker(target: HostPort, health: HealthCheckConfig, clock: Clock): HealthChecker {
  if (health.http !== undefined) return new HttpChecker(target, health.http, health.timeout, clock);
  if (health.grpc !== undefined) return new GrpcChecker(target, health.grpc === true ? '' : health.grpc, health, clock);
  return new TcpChecker(target, health.timeout, clock);
}
