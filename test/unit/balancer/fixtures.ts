// Builders shared by the balancer tests: endpoints, configs, a seeded PRNG, and a picker
// factory with injected time and dice.

import { FakeClock, type Random } from '../../../src/clock.ts';
import type { LbAlgorithm, LbConfig } from '../../../src/config/types.ts';
import { endpointSet, type Endpoint, type EndpointSet } from '../../../src/balancer/endpoint-set.ts';
import type { Picker } from '../../../src/balancer/picker.ts';
import { createPicker } from '../../../src/balancer/registry.ts';

export const ALGORITHMS: readonly LbAlgorithm[] = [
  'round_robin',
  'weighted_round_robin',
  'random',
  'least_request',
  'peak_ewma',
  'ring_hash',
  'maglev',
];

/** mulberry32: a tiny seeded PRNG, so statistical tests give the same answer every run. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function endpoint(address: string, fields: Partial<Omit<Endpoint, 'address'>> = {}): Endpoint {
  const [host = '', port = '0'] = address.split(':');
  return { address, host, port: Number(port), weight: 1, backup: false, health: 'healthy', metadata: {}, ...fields };
}

/** `count` healthy endpoints 10.0.0.1:8080, 10.0.0.2:8080, … */
export function endpoints(count: number, fields: Partial<Omit<Endpoint, 'address'>> = {}): Endpoint[] {
  return Array.from({ length: count }, (_, i) => endpoint(`10.0.${i >> 8}.${(i & 255) + 1}:8080`, fields));
}

export function lbConfig(algorithm: LbAlgorithm, fields: Partial<LbConfig> = {}): LbConfig {
  return { algorithm, decay: 10_000, choiceCount: 2, minRingSize: 1024, tableSize: 65_537, ...fields };
}

export interface Harness {
  readonly clock: FakeClock;
  readonly random: Random;
  build(lb: LbConfig | LbAlgorithm, set: EndpointSet | readonly Endpoint[], previous?: Picker): Picker;
}

export function harness(seed = 1): Harness {
  const clock = new FakeClock();
  const random = mulberry32(seed);
  return {
    clock,
    random,
    build(lb, set, previous) {
      const config = typeof lb === 'string' ? lbConfig(lb) : lb;
      const snapshot = 'endpoints' in set ? set : endpointSet(set);
      return createPicker(config, snapshot, { clock, random }, previous);
    },
  };
}

/** How many of `picks` picks went to each address. */
export function countPicks(picker: Picker, picks: number, key?: (i: number) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const address = picker.pick({ hashKey: key?.(i) })?.address ?? 'none';
    counts.set(address, (counts.get(address) ?? 0) + 1);
  }
  return counts;
}
