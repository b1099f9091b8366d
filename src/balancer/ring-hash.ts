// Ketama-style consistent hashing: each endpoint puts points on a 32-bit ring, point i at
// the hash of i seeded by the hash of its address, as many as its weight asks; a key goes to
// the first point at or after its hash. When an endpoint joins or leaves, only the
// keys on its own arcs move. Lookup is a binary search over a sorted Uint32Array.

import type { Random } from '../clock.ts';
import type { Endpoint } from './endpoint-set.ts';
import { integerRange, type LoadBalancerType } from './lb-type.ts';
import { murmurHash3, murmurHash3Uint32 } from './hash.ts';
import { inAddressOrder, type PickerContext } from './picker-context.ts';
import type { PickRequest } from './picker.ts';
import { randomIndex } from './random-choice.ts';
import { TrackedPicker } from './tracked-picker.ts';

/** Envoy's default maximum: past this, more points cost memory without spreading keys better. */
export const MAX_RING_SIZE = 8 * 1024 * 1024;

/**
 * Points per endpoint: `minRingSize` per unit of weight, so even a one-endpoint ring has
 * minRingSize points, less only when the ring would pass MAX_RING_SIZE. Unlike Envoy, which
 * sizes the whole ring to minRingSize, an endpoint's points do not depend on how many others
 * there are: a join or leave moves only the keys on the arcs of the endpoint that changed.
 */
export function ringPointCounts(weights: readonly number[], minRingSize: number): number[] {
  const total = weights.reduce((sum, w) => sum + w, 0);
  const perWeight = Math.max(1, Math.min(minRingSize, Math.floor(MAX_RING_SIZE / total)));
  return weights.map((w) => Math.max(1, Math.round(w * perWeight)));
}

export class RingHashPicker extends TrackedPicker {
  readonly algorithm = 'ring_hash';
  private readonly random: Random;
  /** Sorted point hashes, and the endpoint index owning each point. */
  private readonly hashes: Uint32Array;
  private readonly owners: Uint32Array;
  private readonly shares: Float64Array;

  constructor(context: PickerContext) {
    const { minRingSize } = context.lb;
    super(context, inAddressOrder(context.endpoints));
    this.random = context.random;
    const counts = this.endpoints.length > 0 ? ringPointCounts(this.endpoints.map((e) => e.weight), minRingSize) : [];
    const size = counts.reduce((sum, c) => sum + c, 0);
    this.hashes = new Uint32Array(size);
    this.owners = new Uint32Array(size);
    let p = 0;
    counts.forEach((count, owner) => {
      const seed = murmurHash3(this.endpoints[owner]!.address);
      for (let i = 0; i < count; i++, p++) {
        this.hashes[p] = murmurHash3Uint32(i, seed);
        this.owners[p] = owner;
      }
    });
    sortPoints(this.hashes, this.owners);
    this.shares = ringShares(this.hashes, this.owners, this.endpoints.length);
  }

  pick(request: PickRequest): Endpoint | undefined {
    const size = this.hashes.length;
    if (size === 0) return undefined;
    const key = request.hashKey;
    if (key === undefined) return this.endpoints[this.owners[randomIndex(this.random, size)]!];
    const hash = murmurHash3(key);
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.hashes[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.endpoints[this.owners[lo === size ? 0 : lo]!];
  }

  protected override describeEndpoint(index: number): { share: number } {
    return { share: this.shares[index]! };
  }
}

export const ringHashType: LoadBalancerType = {
  fields: ['hashOn', 'minRingSize'],
  validate: (lb) => integerRange('minRingSize', lb.minRingSize, 1, MAX_RING_SIZE),
  create: (context) => new RingHashPicker(context),
};

/** Each endpoint's share of the ring: the arcs (previous point, own point] it owns. */
function ringShares(hashes: Uint32Array, owners: Uint32Array, endpointCount: number): Float64Array {
  const shares = new Float64Array(endpointCount);
  const size = hashes.length;
  for (let i = 0; i < size; i++) {
    const arc = i === 0 ? hashes[0]! + 2 ** 32 - hashes[size - 1]! : hashes[i]! - hashes[i - 1]!;
    shares[owners[i]!] = shares[owners[i]!]! + arc / 2 ** 32;
  }
  return shares;
}

/**
 * Sorts the points by hash, carrying owners along: an LSD radix sort in two 16-bit passes,
 * linear in the ring size where a comparison sort of a million points takes a noticeable
 * pause at every endpoint change. Stable, so equal hashes stay in address order.
 */
function sortPoints(hashes: Uint32Array, owners: Uint32Array): void {
  const size = hashes.length;
  let fromHashes: Uint32Array = hashes;
  let fromOwners: Uint32Array = owners;
  let toHashes: Uint32Array = new Uint32Array(size);
  let toOwners: Uint32Array = new Uint32Array(size);
  const starts = new Uint32Array(0x10001);
  for (const shift of [0, 16]) {
    starts.fill(0);
    for (let i = 0; i < size; i++) {
      const slot = ((fromHashes[i]! >>> shift) & 0xffff) + 1;
      starts[slot] = starts[slot]! + 1;
    }
    for (let digit = 1; digit <= 0xffff; digit++) starts[digit] = starts[digit]! + starts[digit - 1]!;
    for (let i = 0; i < size; i++) {
      const digit = (fromHashes[i]! >>> shift) & 0xffff;
      const to = starts[digit]!;
      starts[digit] = to + 1;
      toHashes[to] = fromHashes[i]!;
      toOwners[to] = fromOwners[i]!;
    }
    [fromHashes, toHashes] = [toHashes, fromHashes];
    [fromOwners, toOwners] = [toOwners, fromOwners];
  }
  // Two passes: the sorted points are back in the arrays passed in.
}
