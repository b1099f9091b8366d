// Sections that are parsed and validated now but enforced by a later version. Each one present
// in a config gives one warning, so nobody believes a retry policy protects them before it
// does. Remove a line here when its feature ships.

import type { ConfigWarning } from './types.ts';

/** Field paths, "[]" standing for every index of a list. */
export const NOT_YET_ENFORCED: readonly string[] = [
  'gossip',
  'control',
  'services[].health',
];

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
