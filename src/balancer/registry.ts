// Algorithms register by name with their config rules and factory, as grpc-js's
// registerLoadBalancerType takes a balancer with its config parser: the config schema, the
// control plane and the code name each algorithm and check its fields the same way.
// createPicker is the one way the rest of the agent builds a picker.

import type { Clock, Random } from '../clock.ts';
import type { LbAlgorithm, LbConfig } from '../config/types.ts';
import { eligibleEndpoints, type Endpoint, type EndpointSet } from './endpoint-set.ts';
import { BalancerConfigError } from './errors.ts';
import type { LbField, LbIssue, LoadBalancerType } from './lb-type.ts';
import { leastRequestType } from './least-request.ts';
import { LoadTable } from './load-table.ts';
import { maglevType } from './maglev.ts';
import { peakEwmaType } from './peak-ewma.ts';
import type { Picker } from './picker.ts';
import { randomType } from './random.ts';
import { ringHashType } from './ring-hash.ts';
import { roundRobinType } from './round-robin.ts';
import { TrackedPicker } from './tracked-picker.ts';
import { weightedRoundRobinType } from './weighted-round-robin.ts';

const types = new Map<string, LoadBalancerType>();

export function registerLoadBalancerType(algorithm: string, type: LoadBalancerType): void {
  types.set(algorithm, type);
}

const builtins: { readonly [A in LbAlgorithm]: LoadBalancerType } = {
  round_robin: roundRobinType,
  weighted_round_robin: weightedRoundRobinType,
  random: randomType,
  least_request: leastRequestType,
  peak_ewma: peakEwmaType,
  ring_hash: ringHashType,
  maglev: maglevType,
};
for (const [algorithm, type] of Object.entries(builtins)) registerLoadBalancerType(algorithm, type);

/** The algorithms the config accepts, in the order its messages list them. */
export const LB_ALGORITHMS = Object.keys(builtins) as readonly LbAlgorithm[];

/** The registered algorithms that read `field`. */
function algorithmsReading(field: LbField): string[] {
  return [...types].filter(([, type]) => type.fields.includes(field)).map(([algorithm]) => algorithm);
}

/** Every broken rule of `lb`: a field its algorithm does not read, and the algorithm's own rules. */
export function lbIssues(lb: LbConfig, given: ReadonlySet<LbField>): LbIssue[] {
  const type = types.get(lb.algorithm);
  if (type === undefined) return [];
  const issues: LbIssue[] = [];
  for (const field of given) {
    if (!type.fields.includes(field)) issues.push({ field, message: `applies only to ${algorithmsReading(field).join(' or ')}, not ${lb.algorithm}` });
  }
  return [...issues, ...type.validate(lb)];
}

/**
 * Builds the picker for one snapshot of an upstream's endpoints. `previous`, the picker of the
 * upstream's former snapshot, hands over its per-address load (in flight, latency estimate)
 * and its rotation, so a reload or an endpoint change resets nothing for the addresses that
 * remain. `eligible` is the part of the set that may take calls (eligibleEndpoints). Throws BalancerConfigError for an unknown algorithm, a broken rule, or a picker
 * these endpoints cannot be served by.
 */
export function createPicker(
  lb: LbConfig,
  set: EndpointSet,
  deps: { readonly clock: Clock; readonly random: Random },
  previous?: Picker,
  eligible: readonly Endpoint[] = eligibleEndpoints(set),
): Picker {
  const type = types.get(lb.algorithm);
  if (type === undefined) {
    throw new BalancerConfigError(`unknown load-balancing algorithm "${lb.algorithm}"`);
  }
  const broken = type.validate(lb);
  if (broken.length > 0) {
    throw new BalancerConfigError(broken.map((issue) => `${lb.algorithm} ${issue.field} ${issue.message}`).join('; '));
  }
  const carried = previous instanceof TrackedPicker ? previous.loadTable : undefined;
  return type.create({
    lb,
    set,
    endpoints: eligible,
    loads: new LoadTable(set.endpoints, carried),
    clock: deps.clock,
    random: deps.random,
  });
}
