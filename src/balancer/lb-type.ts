// What an algorithm registers: the policy.lb fields it reads, the rules their values follow,
// and its picker factory. Each rule is said once, here in the algorithm's own module: the
// config schema reports a broken rule against the field, and createPicker refuses it.

import type { LbConfig } from '../config/types.ts';
import type { PickerFactory } from './picker-context.ts';

/** The fields of policy.lb that only some algorithms read. */
export type LbField = 'hashOn' | 'decay' | 'choiceCount' | 'minRingSize' | 'tableSize';

export interface LbIssue {
  readonly field: LbField;
  /** Says what is wrong with the value, for "upstreams[0].policy.lb.<field>: <message>". */
  readonly message: string;
}

export interface LoadBalancerType {
  /** The algorithm-specific fields it reads; the config refuses the others for it. */
  readonly fields: readonly LbField[];
  /** The broken rules among its fields' values; none for a config it can build from. */
  validate(lb: LbConfig): readonly LbIssue[];
  /** May still throw BalancerConfigError for what depends on the endpoints (a table too small for them). */
  readonly create: PickerFactory;
}

/** An integer rule, with the messages the config layer uses for its own bounds. */
export function integerRange(field: LbField, value: number, min: number, max = Infinity): LbIssue[] {
  if (!Number.isInteger(value)) return [{ field, message: `expected an integer, got ${value}` }];
  if (value < min) return [{ field, message: `must be at least ${min}, got ${value}` }];
  if (value > max) return [{ field, message: `must be at most ${max}, got ${value}` }];
  return [];
}
