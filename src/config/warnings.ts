// Sections that are parsed and validated now but enforced by a later version. Each one present
// in a config gives one warning, so nobody believes a retry policy protects them before it
// does. Remove a line here when its feature ships.

import type { AgentConfig, ConfigWarning } from './types.ts';

/** Field paths, "[]" standing for every index of a list. */
export const NOT_YET_ENFORCED: readonly string[] = [];

export const HEALTH_WITHOUT_GOSSIP_MESSAGE = 'has no effect without gossip: its result is what other agents learn about the service';

/** Fields that are valid but do nothing in this config. */
export function ineffectiveFieldWarnings(config: AgentConfig): ConfigWarning[] {
  if (config.gossip !== undefined) return [];
  return config.services.flatMap((service, i) => (service.health ? [{ path: `services[${i}].health`, message: HEALTH_WITHOUT_GOSSIP_MESSAGE }] : []));
}

export const NOT_YET_ENFORCED_MESSAGE = 'accepted but not yet enforced';

/** Warnings in the order the fields appear in the config. */
export function notYetEnforcedWarnings(config: object): ConfigWarning[] {
  const wanted = new Set(NOT_YET_ENFORCED);
  const warnings: ConfigWarning[] = [];
  const visit = (node: unknown, path: string, pattern: string): void => {
    if (node === undefined) return;
    if (pattern !== '' && wanted.has(pattern)) {
      warnings.push({ path, message: NOT_YET_ENFORCED_MESSAGE });
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, index) => visit(item, `${path}[${index}]`, `${pattern}[]`));
    } else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        visit(value, path === '' ? key : `${path}.${key}`, pattern === '' ? key : `${pattern}.${key}`);
      }
    }
  };
  visit(config, '', '');
  return warnings;
}
