// services[]: the local applications this agent fronts (inbound), with their health checks.

import { z } from 'zod';
import { SERVICE_LIMITS_DEFAULTS } from './defaults.ts';
import { formatDuration } from './duration.ts';
import { address, duration, listenAddress, name, positiveInt, protocol } from './fields.ts';
import { describeValue } from './messages.ts';
import type { HealthCheckConfig, ServiceConfig } from './types.ts';

/**
 * HAProxy's `check inter 3s fall 2 rise 5`, as DESIGN.md puts it: two failures mark a
 * service down quickly, five successes in a row are needed before it takes traffic again.
 */
export const HEALTH_DEFAULTS = { interval: 3000, timeout: 1000, fall: 2, rise: 5 } as const;

const httpPath = z.string().startsWith('/', { error: (issue) => `expected a path starting with "/", got ${describeValue(issue.input)}` });

// grpc: a service name for grpc.health.v1, or true for the server as a whole ("").
const grpcService = z.union([z.string(), z.literal(true)], {
  error: (issue) => `expected a service name or true, got ${describeValue(issue.input)}`,
});

const healthSchema = z
  .strictObject({
    http: httpPath.optional(),
    grpc: grpcService.optional(),
    tcp: z.literal(true).optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    fall: positiveInt.optional(),
    rise: positiveInt.optional(),
  })
  .transform((raw, ctx): HealthCheckConfig => {
    const kinds = [raw.http, raw.grpc, raw.tcp].filter((kind) => kind !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of http, grpc or tcp', input: raw });
    }
    const interval = raw.interval ?? HEALTH_DEFAULTS.interval;
    const timeout = raw.timeout ?? HEALTH_DEFAULTS.timeout;
    if (timeout > interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeout'],
        message: `must not be longer than interval (${formatDuration(interval)})`,
        input: timeout,
      });
    }
    return {
      ...(raw.http !== undefined ? { http: raw.http } : {}),
      ...(raw.grpc !== undefined ? { grpc: raw.grpc } : {}),
      ...(raw.tcp !== undefined ? { tcp: raw.tcp } : {}),
      interval,
      timeout,
      fall: raw.fall ?? HEALTH_DEFAULTS.fall,
      rise: raw.rise ?? HEALTH_DEFAULTS.rise,
    };
  });

const limitsSchema = z.strictObject({ maxConcurrent: positiveInt.optional() });

export const serviceSchema = z
  .strictObject({
    name,
    protocol: protocol.optional(),
    target: address,
    listen: listenAddress,
    health: healthSchema.optional(),
    limits: limitsSchema.optional(),
  })
  .transform(
    (raw): ServiceConfig => ({
      name: raw.name,
      protocol: raw.protocol ?? 'http',
      target: raw.target,
      listen: raw.listen,
      ...(raw.health ? { health: raw.health } : {}),
      limits: { maxConcurrent: raw.limits?.maxConcurrent ?? SERVICE_LIMITS_DEFAULTS.maxConcurrent },
    }),
  );
