// Why the agent itself keeps calls off an endpoint, apart from the health discovery reports.
// One place says what each means, and every part of the agent asks here:
// - 'breaker_open': the endpoint's circuit breaker is open. Half-open is not an exclusion: the
//   endpoint is eligible again and its breaker admits a bounded number of probes.
// - 'ejected': the outlier detector ejected it, until its ejection time is over.
// An excluded endpoint leaves the picker's eligible set (a new picker snapshot); while another
// endpoint is eligible no pick returns it.

export type Exclusion = 'breaker_open' | 'ejected';

const BITS: Readonly<Record<Exclusion, number>> = { breaker_open: 1, ejected: 2 };

/** The exclusions in force for one endpoint, as a set of bits. */
export class Exclusions {
  private bits = 0;

  get any(): boolean {
    return this.bits !== 0;
  }

  has(exclusion: Exclusion): boolean {
    return (this.bits & BITS[exclusion]) !== 0;
  }

  /** Returns whether the endpoint's being excluded at all changed. */
  set(exclusion: Exclusion, on: boolean): boolean {
    const before = this.bits !== 0;
    this.bits = on ? this.bits | BITS[exclusion] : this.bits & ~BITS[exclusion];
    return before !== (this.bits !== 0);
  }

  list(): Exclusion[] {
    return (Object.keys(BITS) as Exclusion[]).filter((e) => this.has(e));
  }
}
