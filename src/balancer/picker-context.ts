// What an algorithm's factory gets: the config, the endpoints it may pick from, the load
// records carried over from the upstream's previous picker, and the injected time and dice.

import type { Clock, Random } from '../clock.ts';
import type { LbConfig } from '../config/types.ts';
import type { Endpoint, EndpointSet } from './endpoint-set.ts';
import type { LoadTable } from './load-table.ts';
import type { Picker } from './picker.ts';

export interface PickerContext {
  readonly lb: LbConfig;
  readonly set: EndpointSet;
  /** eligibleEndpoints(set), computed once for this picker. */
  readonly endpoints: readonly Endpoint[];
  readonly loads: LoadTable;
  readonly clock: Clock;
  readonly random: Random;
}

/** May throw BalancerConfigError when these endpoints cannot be served (see LoadBalancerType.create). */
export type PickerFactory = (context: PickerContext) => Picker;

/** Endpoints sorted by address: hash-based pickers build the same ring or table whatever order discovery listed them in. */
export function inAddressOrder(endpoints: readonly Endpoint[]): readonly Endpoint[] {
  return [...endpoints].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}
