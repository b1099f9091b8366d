// Plain rotation, ignoring weights. A new picker of the same upstream goes on after the
// endpoint the previous one picked last, so a health flip or a joining endpoint neither
// restarts nor skews the rotation. The first picker starts at a random place so that many
// agents built from the same endpoint list at the same moment don't all hit the first one together.

import type { Endpoint } from './endpoint-set.ts';
import type { LoadBalancerType } from './lb-type.ts';
import type { Rotation } from './load-table.ts';
import type { PickerContext } from './picker-context.ts';
import { randomIndex } from './random-choice.ts';
import { TrackedPicker } from './tracked-picker.ts';

export class RoundRobinPicker extends TrackedPicker {
  readonly algorithm = 'round_robin';
  private readonly rotation: Rotation;
  private next: number;

  constructor(context: PickerContext) {
    super(context);
    this.rotation = context.loads.rotation;
    const n = this.endpoints.length;
    const last = this.rotation.lastAddress;
    const at = last === undefined ? -1 : this.endpoints.findIndex((e) => e.address === last);
    this.next = n === 0 ? 0 : at >= 0 ? (at + 1) % n : randomIndex(context.random, n);
  }

  pick(): Endpoint | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    const i = this.next;
    this.next = i + 1 === n ? 0 : i + 1;
    const endpoint = this.endpoints[i]!;
    this.rotation.lastAddress = endpoint.address;
    return endpoint;
  }
}

export const roundRobinType: LoadBalancerType = {
  fields: [],
  validate: () => [],
  create: (context) => new RoundRobinPicker(context),
};
