// Algorithms register by name with a factory, as grpc-js's registerLoadBalancerType, so the
// config schema, the control plane and the code name each algorithm the same way.
// createPicker is the one way the rest of the agent builds a picker.

import type { Clock, Random } from '../clock.ts';
import type { LbAlgorithm, LbConfig } from '../config/types.ts';
import { eligibleEndpoints, type EndpointSet } from './endpoint-set.ts';
import { BalancerConfigError } from './errors.ts';
import { LeastRequestPicker } from './least-request.ts';
import { LoadTable } from './load-table.ts';
import { MaglevPicker } from './maglev.ts';
import { PeakEwmaPicker } from './peak-ewma.ts';
import type { PickerFactory } from './picker-context.ts';
import type { Picker } from './picker.ts';
import { RandomPicker } from './random.ts';
import { RingHashPicker } from './ring-hash.ts';
import { RoundRobinPicker } from './round-robin.ts';
import { TrackedPicker } from './tracked-picker.ts';
import { WeightedRoundRobinPicker } from './weighted-round-robin.ts';

const factories = new Map<string, PickerFactory>();

export function registerPicker(algorithm: string, factory: PickerFactory): void {
  factories.set(algorithm, factory);
}

const builtins: { readonly [A in LbAlgorithm]: PickerFactory } = {
  round_robin: (context) => new RoundRobinPicker(context),
  weighted_round_robin: (context) => new WeightedRoundRobinPicker(context),
  random: (context) => new RandomPicker(context),
  least_request: (context) => new LeastRequestPicker(context),
  peak_ewma: (context) => new PeakEwmaPicker(context),
  ring_hash: (context) => new RingHashPicker(context),
  maglev: (context) => new MaglevPicker(context),
};
for (const [algorithm, factory] of Object.entries(builtins)) registerPicker(algorithm, factory);

/**
 * Builds the picker for one snapshot of an upstream's endpoints. `previous`, the picker of the
 * upstream's former snapshot, hands over its per-address load (in flight, latency estimate),
 * so a reload or an endpoint change resets nothing for the addresses that remain.
 * Throws BalancerConfigError for an unknown algorithm or invalid settings.
 */
export function createPicker(
  lb: LbConfig,
  set: EndpointSet,
  deps: { readonly clock: Clock; readonly random: Random },
  previous?: Picker,
): Picker {
  const factory = factories.get(lb.algorithm);
  if (factory === undefined) {
    throw new BalancerConfigError(`unknown load-balancing algorithm "${lb.algorithm}"`);
  }
  const carried = previous instanceof TrackedPicker ? previous.loadTable : undefined;
  return factory({
    lb,
    set,
    endpoints: eligibleEndpoints(set),
    loads: new LoadTable(set.endpoints, carried),
    clock: deps.clock,
    random: deps.random,
  });
}
