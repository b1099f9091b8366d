// HAProxy's fall and rise: a service's health moves only after enough results in a row say
// otherwise. Before the first result it is 'unknown'; the first result decides at once, so a
// service is judged one check after the agent starts instead of `rise` checks later.

import type { ServiceHealth } from '../gossip/messages.ts';

export interface HealthStreak {
  readonly health: ServiceHealth;
  /** Consecutive results against `health` so far. */
  readonly against: number;
}

export const UNDECIDED: HealthStreak = { health: 'unknown', against: 0 };

export function afterCheck(state: HealthStreak, pass: boolean, limits: { readonly fall: number; readonly rise: number }): HealthStreak {
  const verdict: ServiceHealth = pass ? 'passing' : 'failing';
  if (state.health === 'unknown' || state.health === verdict) return { health: verdict, against: 0 };
  const against = state.against + 1;
  const needed = state.health === 'passing' ? limits.fall : limits.rise;
  return against >= needed ? { health: verdict, against: 0 } : { health: state.health, against };
}
