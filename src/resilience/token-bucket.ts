// A token bucket on the injected clock with no timer: the tokens earned since the last read are
// added when the bucket is read, so an idle limiter costs nothing and a test drives it by time.
import type { Clock } from '../clock.ts';

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;
  private readonly perMs: number;

  /**
   * Starts full: `burst` calls pass at once, then `ratePerSecond` on average. The caller
   * validates the numbers (rate > 0, burst ≥ 1); a bucket smaller than one token would never
   * admit anything.
   */
  constructor(
    private readonly clock: Clock,
    ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.perMs = ratePerSecond / 1000;
    this.tokens = burst;
    this.refilledAt = clock.now();
  }

  /** Takes one token if there is one; false means the call is over the limit. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long until the next token, 0 when one is there now (for `retry-after`). */
  retryAfterMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.perMs;
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = now - this.refilledAt;
    // A clock read that does not move (or a monotonic clock that steps back) earns nothing.
    if (elapsed <= 0) return;
    this.refilledAt = now;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perMs);
  }
}
