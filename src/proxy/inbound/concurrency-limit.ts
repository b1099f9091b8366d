// How many calls an inbound service lets through to its local application at once: a fixed
// cap (services[].limits.maxConcurrent), or the adaptive GradientLimit, which has this shape too.

export interface ConcurrencyLimit {
  /** Calls admitted at once; a lower limit leaves calls already admitted as they are. */
  readonly limit: number;
  readonly inFlight: number;
  /** Admits one call if fewer than `limit` are in flight; pair with release(). */
  tryAcquire(): boolean;
  release(): void;
  /** An admitted call's latency at the application; undefined when it says nothing of it. */
  sample(latencyMs: number | undefined): void;
}

export class FixedLimit implements ConcurrencyLimit {
  private active = 0;

  constructor(readonly limit: number) {}

  get inFlight(): number {
    return this.active;
  }

  tryAcquire(): boolean {
    if (this.active >= this.limit) return false;
    this.active++;
    return true;
  }

  release(): void {
    this.active--;
  }

  sample(): void {
    // A fixed cap learns nothing from latency.
  }
}
