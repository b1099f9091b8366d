// Defaults the schemas fill in, kept free of zod so the running agent can use them without
// loading the schema library (config is parsed in a worker; see src/cli/config-source.ts).

import type { LbConfig, PolicyConfig } from './types.ts';

export const LB_DEFAULTS = {
  algorithm: 'round_robin',
  decay: 10_000,
  choiceCount: 2,
  minRingSize: 1024,
  tableSize: 65_537,
} as const satisfies LbConfig;

export const POLICY_DEFAULTS = { timeout: 15_000, connectTimeout: 1000 } as const;

/** The policy of an upstream that has no `policy` section. */
export const DEFAULT_POLICY: PolicyConfig = { lb: LB_DEFAULTS, ...POLICY_DEFAULTS };
