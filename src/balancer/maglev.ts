// Maglev hashing (Eisenbud et al., NSDI 2016) with Envoy's weighting: every endpoint walks its
// own permutation of the table's M slots (offset and skip from two hashes of its address,
// M prime so every skip visits every slot) and claims its next free slot in turn; an endpoint
// of weight w takes a turn in w/maxWeight of the rounds. Lookup is table[hash(key) % M]:
// one array read. Moving one endpoint in or out moves little more than its own 1/n of keys.

import type { Random } from '../clock.ts';
import type { Endpoint } from './endpoint-set.ts';
import { BalancerConfigError } from './errors.ts';
import type { LbIssue, LoadBalancerType } from './lb-type.ts';
import { murmurHash3 } from './hash.ts';
import { inAddressOrder, type PickerContext } from './picker-context.ts';
import type { PickRequest } from './picker.ts';
import { randomIndex } from './random-choice.ts';
import { TrackedPicker } from './tracked-picker.ts';

/** Envoy's bound: a larger table costs memory for no better spread. */
export const MAX_TABLE_SIZE = 5_000_011;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** The Maglev lookup table: slot → index into `endpoints`. */
export function buildMaglevTable(endpoints: readonly Endpoint[], size: number): Uint32Array {
  const n = endpoints.length;
  const table = new Uint32Array(size);
  const taken = new Uint8Array(size);
  const skips = new Float64Array(n);
  const cursors = new Float64Array(n);
  const turnsEarned = new Float64Array(n);
  let maxWeight = 0;
  endpoints.forEach((endpoint, i) => {
    cursors[i] = murmurHash3(endpoint.address, 0) % size;
    skips[i] = (murmurHash3(endpoint.address, 1) % (size - 1)) + 1;
    maxWeight = Math.max(maxWeight, endpoint.weight);
  });
  let filled = 0;
  for (let round = 1; filled < size; round++) {
    for (let i = 0; i < n && filled < size; i++) {
      // An endpoint of weight maxWeight takes every turn, one of maxWeight/3 every third.
      if (round * endpoints[i]!.weight < turnsEarned[i]!) continue;
      turnsEarned[i] = turnsEarned[i]! + maxWeight;
      let slot = cursors[i]!;
      while (taken[slot] === 1) slot = (slot + skips[i]!) % size;
      taken[slot] = 1;
      table[slot] = i;
      cursors[i] = (slot + skips[i]!) % size;
      filled++;
    }
  }
  return table;
}

export class MaglevPicker extends TrackedPicker {
  readonly algorithm = 'maglev';
  private readonly random: Random;
  private readonly table: Uint32Array;
  private readonly shares: Float64Array;

  constructor(context: PickerContext) {
    const { tableSize } = context.lb;
    // Depends on the endpoints, so only a picker can tell: a reload is refused for it, a
    // discovery update keeps the picker before it.
    if (context.endpoints.length > tableSize) {
      throw new BalancerConfigError(`maglev tableSize ${tableSize} has fewer slots than the ${context.endpoints.length} endpoints, so some would never be picked`);
    }
    super(context, inAddressOrder(context.endpoints));
    this.random = context.random;
    this.table = this.endpoints.length > 0 ? buildMaglevTable(this.endpoints, tableSize) : new Uint32Array(0);
    this.shares = new Float64Array(this.endpoints.length);
    for (const owner of this.table) this.shares[owner] = this.shares[owner]! + 1 / tableSize;
  }

  pick(request: PickRequest): Endpoint | undefined {
    const size = this.table.length;
    if (size === 0) return undefined;
    const key = request.hashKey;
    const slot = key === undefined ? randomIndex(this.random, size) : murmurHash3(key) % size;
    return this.endpoints[this.table[slot]!];
  }

  protected override describeEndpoint(index: number): { share: number } {
    return { share: this.shares[index]! };
  }
}

function tableSizeIssues(tableSize: number): LbIssue[] {
  if (tableSize > MAX_TABLE_SIZE) return [{ field: 'tableSize', message: `must be at most ${MAX_TABLE_SIZE}, got ${tableSize}` }];
  if (!isPrime(tableSize)) return [{ field: 'tableSize', message: `must be a prime number (such as 65537 or 5003), got ${tableSize}` }];
  return [];
}

export const maglevType: LoadBalancerType = {
  fields: ['hashOn', 'tableSize'],
  validate: (lb) => tableSizeIssues(lb.tableSize),
  create: (context) => new MaglevPicker(context),
};
