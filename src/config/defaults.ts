// Defaults the schemas fill in, kept free of zod so the running agent can use them without
// loading the schema library (config is parsed in a worker; see src/cli/config-source.ts).

import type { ConnectionsConfig, LbConfig, ListenersConfig, PolicyConfig } from './types.ts';

export const LB_DEFAULTS = {
  algorithm: 'round_robin',
  decay: 10_000,
  choiceCount: 2,
  minRingSize: 1024,
  tableSize: 65_537,
} as const satisfies LbConfig;

export const POLICY_DEFAULTS = { timeout: 15_000, connectTimeout: 1000 } as const;

export const CONNECTIONS_DEFAULTS = {
  maxPerEndpoint: 128,
  maxStreamsPerConnection: 100,
  maxQueued: 1000,
  streamWindow: 256 * 1024,
} as const satisfies ConnectionsConfig;

/** The policy of an upstream that has no `policy` section. */
export const DEFAULT_POLICY: PolicyConfig = { lb: LB_DEFAULTS, ...POLICY_DEFAULTS, connections: CONNECTIONS_DEFAULTS };

// Envoy's per-stream window (256 KiB) and Go's and Envoy's stream limits (100-250).
export const LISTENERS_DEFAULTS = {
  maxConnections: 4096,
  headersTimeout: 10_000,
  idleTimeout: 60_000,
  bodyIdleTimeout: 30_000,
  http2: { maxConcurrentStreams: 100, streamWindow: 256 * 1024 },
} as const satisfies ListenersConfig;
