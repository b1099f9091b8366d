// Uniform random choice among the eligible endpoints, ignoring weights and load.

import type { Endpoint } from './endpoint-set.ts';
import type { LoadBalancerType } from './lb-type.ts';
import type { Random } from '../clock.ts';
import type { PickerContext } from './picker-context.ts';
import { randomIndex } from './random-choice.ts';
import { TrackedPicker } from './tracked-picker.ts';

export class RandomPicker extends TrackedPicker {
  readonly algorithm = 'random';
  private readonly random: Random;

  constructor(context: PickerContext) {
    super(context);
    this.random = context.random;
  }

  pick(): Endpoint | undefined {
    const n = this.endpoints.length;
    return n === 0 ? undefined : this.endpoints[randomIndex(this.random, n)];
  }
}

export const randomType: LoadBalancerType = {
  fields: [],
  validate: () => [],
  create: (context) => new RandomPicker(context),
};
