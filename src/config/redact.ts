// The config as the admin API shows it: everything but the secrets. Each gossip key becomes
// "[redacted]" rather than the list vanishing, so an operator still sees how many keys the
// ring holds during a rotation.

import type { AgentConfig } from './types.ts';

export const REDACTED = '[redacted]';

export function redactConfig(config: AgentConfig): unknown {
  const copy = structuredClone(config) as { -readonly [K in keyof AgentConfig]: AgentConfig[K] };
  if (copy.control?.token !== undefined) copy.control = { ...copy.control, token: REDACTED };
  if (copy.admin.token !== undefined) copy.admin = { ...copy.admin, token: REDACTED };
  if (copy.gossip) copy.gossip = { ...copy.gossip, keys: copy.gossip.keys.map(() => REDACTED) };
  return copy;
}
