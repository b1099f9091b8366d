// Per-address load shared by the successive pickers of one upstream. A new picker takes the
// very same record for every address that remains, so a request started on the old picker
// and ended on either one settles the same count, and a reload resets nothing. The rotation
// travels along too, so round robin goes on after the endpoint it picked last.

import type { Endpoint } from './endpoint-set.ts';

export class EndpointLoad {
  inFlight = 0;
  /** peak_ewma's latency estimate in ms as of `stampMs`; meaningful once `sampled`. */
  ewmaMs = 0;
  stampMs = 0;
  sampled = false;
  /** When peak_ewma last saw an attempt to it fail; never: -Infinity. */
  failedAtMs = Number.NEGATIVE_INFINITY;
  /** weighted_round_robin's running score, carried so a new snapshot goes on with the sequence. */
  wrrScore = 0;

  started(): void {
    this.inFlight++;
  }

  /** Never below zero: a request may end on a picker that never saw it start. */
  ended(): void {
    if (this.inFlight > 0) this.inFlight--;
  }
}

/** Where a rotation stands: the address it picked last, none before its first pick. */
export class Rotation {
  lastAddress: string | undefined = undefined;
}

export class LoadTable {
  private readonly byAddress = new Map<string, EndpointLoad>();
  readonly rotation: Rotation;

  /** One record per address in `endpoints`, reusing `previous`'s record where there is one. */
  constructor(endpoints: readonly Endpoint[], previous?: LoadTable) {
    this.rotation = previous?.rotation ?? new Rotation();
    for (const endpoint of endpoints) {
      if (this.byAddress.has(endpoint.address)) continue;
      this.byAddress.set(endpoint.address, previous?.byAddress.get(endpoint.address) ?? new EndpointLoad());
    }
  }

  get(address: string): EndpointLoad | undefined {
    return this.byAddress.get(address);
  }
}
