// Plain rotation, ignoring weights. Each picker starts at a random place so that many agents
// built from the same endpoint list at the same moment don't all hit the first one together.

import type { Endpoint } from './endpoint-set.ts';
import type { PickerContext } from './picker-context.ts';
import { randomIndex } from './random-choice.ts';
import { TrackedPicker } from './tracked-picker.ts';

export class RoundRobinPicker extends TrackedPicker {
  readonly algorithm = 'round_robin';
  private next: number;

  constructor(context: PickerContext) {
    super(context);
    this.next = this.endpoints.length > 0 ? randomIndex(context.random, this.endpoints.length) : 0;
  }

  pick(): Endpoint | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    const i = this.next;
    this.next = i + 1 === n ? 0 : i + 1;
    return this.endpoints[i];
  }
}
