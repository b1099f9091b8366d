// nginx's smooth weighted round robin: every pick adds each endpoint's weight to its running
// score, takes the highest and charges it the total. Over every run of sum(weights) picks
// each endpoint is chosen exactly `weight` times, spread out (5,1,1 → a a b a c a a). The
// scores live in the per-address load records, so a new snapshot (a breaker opening, an
// ejection, a health flip of another endpoint) goes on with the sequence instead of restarting it.

import type { Endpoint } from './endpoint-set.ts';
import type { LoadBalancerType } from './lb-type.ts';
import type { PickerContext } from './picker-context.ts';
import { randomIndex } from './random-choice.ts';
import { TrackedPicker } from './tracked-picker.ts';

export class WeightedRoundRobinPicker extends TrackedPicker {
  readonly algorithm = 'weighted_round_robin';
  private readonly weights: Float64Array;
  private readonly total: number;

  constructor(context: PickerContext) {
    // Ties go to the first endpoint in order; a random rotation keeps agents from agreeing on it.
    const n = context.endpoints.length;
    const start = n > 0 ? randomIndex(context.random, n) : 0;
    super(context, [...context.endpoints.slice(start), ...context.endpoints.slice(0, start)]);
    this.weights = Float64Array.from(this.endpoints, (e) => e.weight);
    this.total = this.weights.reduce((sum, w) => sum + w, 0);
  }

  pick(): Endpoint | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    const loads = this.loads;
    let best = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      const load = loads[i]!;
      const score = load.wrrScore + this.weights[i]!;
      load.wrrScore = score;
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    loads[best]!.wrrScore = bestScore - this.total;
    return this.endpoints[best];
  }
}

export const weightedRoundRobinType: LoadBalancerType = {
  fields: [],
  validate: () => [],
  create: (context) => new WeightedRoundRobinPicker(context),
};
