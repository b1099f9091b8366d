// One budget per upstream for every extra attempt, retries and hedges alike (Finagle's and
// Linkerd's RetryBudget): each call deposits `ratio` of a token, and an extra attempt spends a
// whole one; tokens expire after the window, so only recent calls pay for retries. On top, a
// floor of `minPerSecond` extra attempts each second lets a quiet upstream still retry. A token
// is spent once, so however long an upstream fails it sees at most
// (1 + ratio) × the calls sent to it + minPerSecond per second, never attempts × the calls.
// Driven by the injected Clock; tokens are counted in millionths so that sums are exact.

import type { Clock } from '../clock.ts';

const BUCKET_MS = 1000;
/** Tokens live for BUCKETS × BUCKET_MS: 10 s, Finagle's default TTL. */
const BUCKETS = 10;
const WHOLE = 1_000_000;

export class RetryBudget {
  /** Unspent tokens (millionths) deposited in each of the last BUCKETS seconds; a ring indexed by second. */
  private readonly tokens = new Float64Array(BUCKETS);
  private balance = 0;
  /** The second (clock time / BUCKET_MS, floored) the newest bucket stands for. */
  private second = Number.NEGATIVE_INFINITY;
  /** Extra attempts the floor allowed in the current second. */
  private floorSpent = 0;

  constructor(private readonly clock: Clock) {}

  /** A call was sent to the upstream: `ratio` of a retry more may go. */
  deposit(ratio: number): void {
    this.rotate();
    const amount = Math.round(ratio * WHOLE);
    this.tokens[this.second % BUCKETS] = this.tokens[this.second % BUCKETS]! + amount;
    this.balance += amount;
  }

  /** Spends one extra attempt; false, spending nothing, when neither the tokens nor this second's floor allow it. */
  tryWithdraw(minPerSecond: number): boolean {
    this.rotate();
    if (this.balance >= WHOLE) {
      this.spendOldestFirst(WHOLE);
      return true;
    }
    if (this.floorSpent < minPerSecond) {
      this.floorSpent++;
      return true;
    }
    return false;
  }

  /** Whole extra attempts the tokens allow now, the floor left out; for the decision's reason. */
  get available(): number {
    this.rotate();
    return Math.floor(this.balance / WHOLE);
  }

  /** Tokens that expire soonest go first, so the newest calls' share lasts longest. */
  private spendOldestFirst(amount: number): void {
    this.balance -= amount;
    for (let age = BUCKETS - 1; age >= 0 && amount > 0; age--) {
      const index = (this.second - age) % BUCKETS;
      const take = Math.min(amount, this.tokens[index]!);
      this.tokens[index] = this.tokens[index]! - take;
      amount -= take;
    }
  }

  private rotate(): void {
    const second = Math.floor(this.clock.now() / BUCKET_MS);
    if (second === this.second) return;
    if (second - this.second >= BUCKETS) {
      this.tokens.fill(0);
      this.balance = 0;
    } else {
      for (let s = this.second + 1; s <= second; s++) {
        const index = s % BUCKETS;
        this.balance -= this.tokens[index]!;
        this.tokens[index] = 0;
      }
    }
    this.second = second;
    this.floorSpent = 0;
  }
}
