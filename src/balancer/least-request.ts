// Least request as Envoy does it. Equal weights: the power of `choiceCount` random choices,
// taking the one with the fewest requests in flight. Unequal weights: earliest deadline first
// with each endpoint's weight scaled down by its load, weight / (inFlight + 1) (bias 1), so an
// idle upstream gets traffic in proportion to weight and a busy endpoint gets less.

import type { Endpoint } from './endpoint-set.ts';
import { EdfScheduler } from './edf-scheduler.ts';
import { integerRange, type LoadBalancerType } from './lb-type.ts';
import type { PickerContext } from './picker-context.ts';
import { DistinctChoices } from './random-choice.ts';
import { TrackedPicker } from './tracked-picker.ts';

export class LeastRequestPicker extends TrackedPicker {
  readonly algorithm = 'least_request';
  private readonly choices: DistinctChoices;
  private readonly choiceCount: number;
  private readonly scheduler: EdfScheduler | undefined;

  constructor(context: PickerContext) {
    super(context);
    const n = this.endpoints.length;
    this.choiceCount = Math.min(context.lb.choiceCount, n);
    this.choices = new DistinctChoices(n, context.random);
    const weights = this.endpoints.map((e) => e.weight);
    this.scheduler = weights.some((w) => w !== weights[0]) ? new EdfScheduler(weights) : undefined;
  }

  pick(): Endpoint | undefined {
    if (this.endpoints.length === 0) return undefined;
    if (this.scheduler !== undefined) return this.pickWeighted(this.scheduler);
    let best = this.choices.draw(0);
    let bestInFlight = this.loads[best]!.inFlight;
    for (let step = 1; step < this.choiceCount; step++) {
      const candidate = this.choices.draw(step);
      const inFlight = this.loads[candidate]!.inFlight;
      if (inFlight < bestInFlight) {
        best = candidate;
        bestInFlight = inFlight;
      }
    }
    return this.endpoints[best];
  }

  private pickWeighted(scheduler: EdfScheduler): Endpoint | undefined {
    const i = scheduler.peek();
    const endpoint = this.endpoints[i]!;
    scheduler.advance(endpoint.weight / (this.loads[i]!.inFlight + 1));
    return endpoint;
  }
}

/** Fewer than two choices is a random pick: say random then. */
export const MIN_CHOICE_COUNT = 2;

export const leastRequestType: LoadBalancerType = {
  fields: ['choiceCount'],
  validate: (lb) => integerRange('choiceCount', lb.choiceCount, MIN_CHOICE_COUNT),
  create: (context) => new LeastRequestPicker(context),
};
