// The whole agent config: the YAML users write (examples/agent.yaml) → AgentConfig
// less the node name, whose default (the host name) the loader supplies. Every object is
// strict, so a misspelt field is refused instead of silently ignored.

import { z } from 'zod';
import { LISTENERS_DEFAULTS } from './defaults.ts';
import { addressList, duration, listenAddress, nonEmptyString } from './fields.ts';
import { gossipSchema } from './gossip-schema.ts';
import { listenersSchema } from './listeners-schema.ts';
import { serviceSchema } from './service-schema.ts';
import type { AgentConfig, ControlConfig, HostPort, LogConfig } from './types.ts';
import { upstreamSchema } from './upstream-schema.ts';

export const DEFAULT_ADMIN_LISTEN: HostPort = { host: '127.0.0.1', port: 9901, text: '127.0.0.1:9901' };
export const DEFAULT_DRAIN_TIMEOUT = 10_000;
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const logSchema = z
  .strictObject({ level: z.enum(LOG_LEVELS).optional(), access: z.boolean().optional() })
  .transform((raw): LogConfig => ({ level: raw.level ?? 'info', access: raw.access ?? false }));

export const DEFAULT_REPORT_INTERVAL = 5_000;

const controlTlsSchema = z
  .strictObject({ ca: nonEmptyString.optional(), cert: nonEmptyString.optional(), key: nonEmptyString.optional() })
  .superRefine((tls, ctx) => {
    if ((tls.cert === undefined) !== (tls.key === undefined)) ctx.addIssue({ code: 'custom', message: 'cert and key go together (mTLS), or neither', path: [tls.cert === undefined ? 'cert' : 'key'] });
  });

const controlSchema = z
  .strictObject({ address: addressList, token: nonEmptyString.optional(), cache: nonEmptyString.optional(), reportInterval: duration.optional(), tls: controlTlsSchema.optional() })
  .transform((raw): ControlConfig => ({
    address: raw.address,
    ...(raw.token !== undefined ? { token: raw.token } : {}),
    ...(raw.cache !== undefined ? { cache: raw.cache } : {}),
    reportInterval: raw.reportInterval ?? DEFAULT_REPORT_INTERVAL,
    ...(raw.tls !== undefined ? { tls: raw.tls } : {}),
  }));

export type ConfigWithoutNode = Omit<AgentConfig, 'node'> & { readonly node?: string };

export const agentConfigSchema = z
  .strictObject({
    node: nonEmptyString.optional(),
    admin: z.strictObject({ listen: listenAddress.optional(), token: nonEmptyString.optional() }).optional(),
    proxy: z.strictObject({ listen: listenAddress }).optional(),
    log: logSchema.optional(),
    drainTimeout: duration.optional(),
    listeners: listenersSchema.optional(),
    gossip: gossipSchema.optional(),
    control: controlSchema.optional(),
    services: z.array(serviceSchema).optional(),
    upstreams: z.array(upstreamSchema).optional(),
  })
  .transform(
    (raw): ConfigWithoutNode => ({
      ...(raw.node !== undefined ? { node: raw.node } : {}),
      admin: { listen: raw.admin?.listen ?? DEFAULT_ADMIN_LISTEN, ...(raw.admin?.token !== undefined ? { token: raw.admin.token } : {}) },
      ...(raw.proxy ? { proxy: raw.proxy } : {}),
      log: raw.log ?? { level: 'info', access: false },
      drainTimeout: raw.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT,
      listeners: raw.listeners ?? LISTENERS_DEFAULTS,
      ...(raw.gossip ? { gossip: raw.gossip } : {}),
      ...(raw.control ? { control: raw.control } : {}),
      services: raw.services ?? [],
      upstreams: raw.upstreams ?? [],
    }),
  );
