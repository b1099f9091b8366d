// Why the agent itself keeps calls off an endpoint, apart from the health discovery reports.
// One place says what each means, and every part of the agent asks here:
// - 'breaker_open': the endpoint's circuit breaker is open. Half-open is not an exclusion: the
//   endpoint is eligible again and its breaker admits a bounded number of probes.
// - 'ejected': the outlier detector ejected it, until its ejection time is over.
// - 'unreachable': a connection to it could not be made, until one can (reachability.ts). Tried
//   only when no other endpoint is eligible, and never spread to in panic, which would relieve
//   no one: nothing listens there.
// An excluded endpoint leaves the picker's eligible set (a new picker snapshot); while another
// endpoint is eligible and the upstream is not in panic no pick returns it. Panic
// (eligibleEndpoints) may spread calls over ejected endpoints, never over an open breaker or an
// unreachable one.

import type { ExclusionLevel } from '../../balancer/endpoint-set.ts';

export type Exclusion = 'breaker_open' | 'ejected' | 'unreachable';

const BITS: Readonly<Record<Exclusion, number>> = { breaker_open: 1, ejected: 2, unreachable: 4 };

/** The exclusions in force for one endpoint, as a set of bits. */
export class Exclusions {
  private bits = 0;

  get any(): boolean {
    return this.bits !== 0;
  }

  /** What eligibility makes of it (endpoint-set.ts): an open breaker bars it even from panic; unreachable, it is only a last resort. */
  get level(): ExclusionLevel {
    if (this.bits === 0) return 'none';
    if (this.has('breaker_open')) return 'barred';
    return this.has('unreachable') ? 'last_resort' : 'excluded';
  }

  has(exclusion: Exclusion): boolean {
    return (this.bits & BITS[exclusion]) !== 0;
  }

  /** Returns whether its level changed: an ejected endpoint whose breaker opens is barred from panic too. */
  set(exclusion: Exclusion, on: boolean): boolean {
    const before = this.level;
    this.bits = on ? this.bits | BITS[exclusion] : this.bits & ~BITS[exclusion];
    return before !== this.level;
  }

  list(): Exclusion[] {
    return (Object.keys(BITS) as Exclusion[]).filter((e) => this.has(e));
  }
}
