// services[]: the local applications this agent fronts (inbound), with their health checks.

import { z } from 'zod';
import { ADAPTIVE_CONCURRENCY_DEFAULTS, POLICY_DEFAULTS, SERVICE_LIMITS_DEFAULTS } from './defaults.ts';
import { formatDuration } from './duration.ts';
import { address, duration, listenAddress, name, nonEmptyString, positiveInt, protocol } from './fields.ts';
import { describeValue } from './messages.ts';
import { rateLimitSchema } from './policy-schema.ts';
import type { AdaptiveConcurrencyConfig, HealthCheckConfig, ServiceConfig } from './types.ts';

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

const adaptiveSchema = z
  .strictObject({
    minLimit: positiveInt.optional(),
    maxLimit: positiveInt.optional(),
    initialLimit: positiveInt.optional(),
    tolerance: z.number().min(1).max(10).optional(),
    smoothing: z.number().gt(0).max(1).optional(),
    sampleWindow: duration.optional(),
    minRttInterval: duration.optional(),
  })
  .transform((raw, ctx): AdaptiveConcurrencyConfig => {
    const d = ADAPTIVE_CONCURRENCY_DEFAULTS;
    const minLimit = raw.minLimit ?? d.minLimit;
    const maxLimit = raw.maxLimit ?? Math.max(d.maxLimit, minLimit);
    const initialLimit = raw.initialLimit ?? Math.min(Math.max(d.initialLimit, minLimit), maxLimit);
    const sampleWindow = raw.sampleWindow ?? d.sampleWindow;
    const minRttInterval = raw.minRttInterval ?? d.minRttInterval;
    if (maxLimit < minLimit) ctx.addIssue({ code: 'custom', path: ['maxLimit'], message: `must not be below minLimit (${minLimit})`, input: maxLimit });
    else if (initialLimit < minLimit || initialLimit > maxLimit) {
      ctx.addIssue({ code: 'custom', path: ['initialLimit'], message: `must be from minLimit (${minLimit}) to maxLimit (${maxLimit})`, input: initialLimit });
    }
    if (minRttInterval <= sampleWindow) {
      ctx.addIssue({ code: 'custom', path: ['minRttInterval'], message: `must be longer than sampleWindow (${formatDuration(sampleWindow)})`, input: minRttInterval });
    }
    return { minLimit, maxLimit, initialLimit, tolerance: raw.tolerance ?? d.tolerance, smoothing: raw.smoothing ?? d.smoothing, sampleWindow, minRttInterval };
  });

const limitsSchema = z.strictObject({ maxConcurrent: positiveInt.optional(), adaptive: adaptiveSchema.optional(), rateLimit: rateLimitSchema.optional() });

export const serviceSchema = z
  .strictObject({
    name,
    protocol: protocol.optional(),
    target: address,
    listen: listenAddress,
    timeout: duration.optional(),
    health: healthSchema.optional(),
    limits: limitsSchema.optional(),
    weight: positiveInt.optional(),
    zone: nonEmptyString.optional(),
  })
  .transform(
    (raw): ServiceConfig => ({
      name: raw.name,
      protocol: raw.protocol ?? 'http',
      target: raw.target,
      listen: raw.listen,
      timeout: raw.timeout ?? POLICY_DEFAULTS.timeout,
      ...(raw.health ? { health: raw.health } : {}),
      limits: {
        maxConcurrent: raw.limits?.maxConcurrent ?? SERVICE_LIMITS_DEFAULTS.maxConcurrent,
        ...(raw.limits?.adaptive ? { adaptive: raw.limits.adaptive } : {}),
        ...(raw.limits?.rateLimit ? { rateLimit: raw.limits.rateLimit } : {}),
      },
      weight: raw.weight ?? 1,
      zone: raw.zone ?? '',
    }),
  );
