// The p95 of an upstream's recent attempt latencies, for a hedge whose delay is "p95": counts
// in logarithmic buckets (each 10 % wider than the one before, so the answer is within 10 %),
// over the last one to two windows (two generations swapped every window), read in O(buckets)
// and cached until the next swap or a batch of new samples.

import type { Clock } from '../clock.ts';

const GROWTH = 1.1;
const LOG_GROWTH = Math.log(GROWTH);
/** Bucket 0 holds everything up to 0.1 ms; the last one everything past ~0.1 ms × 1.1^199 (≈ 17 min). */
const MIN_MS = 0.1;
const BUCKET_COUNT = 200;
const WINDOW_MS = 10_000;
/** Below this many samples the estimate is not trusted: no hedge is sent on it. */
export const MIN_SAMPLES = 20;
const RECOMPUTE_EVERY = 64;

export class LatencyQuantile {
  private current = new Uint32Array(BUCKET_COUNT);
  private previous = new Uint32Array(BUCKET_COUNT);
  private currentCount = 0;
  private previousCount = 0;
  private generationStart: number;
  private cached: number | undefined;
  private sinceCached = 0;

  constructor(private readonly clock: Clock) {
    this.generationStart = clock.now();
  }

  record(latencyMs: number): void {
    this.rotate();
    const index = latencyMs <= MIN_MS ? 0 : Math.min(BUCKET_COUNT - 1, Math.ceil(Math.log(latencyMs / MIN_MS) / LOG_GROWTH));
    this.current[index]!++;
    this.currentCount++;
    this.sinceCached++;
  }

  /** The upper bound of the bucket holding the `q`-th quantile; undefined below MIN_SAMPLES samples. */
  quantile(q: number): number | undefined {
    this.rotate();
    if (this.cached !== undefined && this.sinceCached < RECOMPUTE_EVERY) return this.cached;
    const total = this.currentCount + this.previousCount;
    if (total < MIN_SAMPLES) return undefined;
    const rank = Math.ceil(q * total);
    let seen = 0;
    let index = 0;
    for (; index < BUCKET_COUNT - 1; index++) {
      seen += this.current[index]! + this.previous[index]!;
      if (seen >= rank) break;
    }
    this.cached = MIN_MS * GROWTH ** index;
    this.sinceCached = 0;
    return this.cached;
  }

  private rotate(): void {
    const now = this.clock.now();
    if (now - this.generationStart < WINDOW_MS) return;
    const recycled = this.previous;
    recycled.fill(0);
    if (now - this.generationStart >= 2 * WINDOW_MS) {
      // Nothing recent at all: both generations start empty.
      this.current.fill(0);
      this.previousCount = 0;
    } else {
      this.previous = this.current;
      this.current = recycled;
      this.previousCount = this.currentCount;
    }
    this.currentCount = 0;
    this.generationStart = now;
    this.cached = undefined;
  }
}
