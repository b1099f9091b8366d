// One budget per upstream for every extra attempt, retries and hedges alike (Finagle's and
// Linkerd's RetryBudget): each call deposits `ratio` of a token, and an extra attempt spends a
// whole one; tokens expire, so only recent calls pay for retries. The floor is a floor, not a
// reserve on top (as Linkerd's minRetriesPerSecond is): a second may always have up to
// `minPerSecond` extra attempts, counting those the tokens paid for (what the floor grants before
// the tokens are there is lent, and the second's deposits repay it first), so a quiet upstream
// still retries while a busy one's storm gets its ratio alone. A token is spent once, so however long
// an upstream fails it sees at most (1 + ratio) × the calls sent to it, or the calls +
// minPerSecond per second where that is more, never attempts × the calls.
//
// Tokens live 2 s, not Finagle's 10 s: what healthy calls deposited before a failure began can
// be spent on top of the failing calls' own share for as long as the tokens live, and 10 s of
// that let a storm's first ten seconds reach (1 + 2 × ratio) × the calls. 2 s is past the
// backoff and per-try timeouts a retry waits for, so a failing call still finds its own share.
// Driven by the injected Clock; tokens are counted in millionths so that sums are exact.

import type { Clock } from '../clock.ts';

const BUCKET_MS = 200;
const BUCKETS = 10;
/** How long a deposited token can be spent: BUCKETS × BUCKET_MS. */
export const TOKEN_LIFE_MS = BUCKET_MS * BUCKETS;
const WHOLE = 1_000_000;

export class RetryBudget {
  /** Unspent tokens (millionths) deposited in each of the last BUCKETS buckets; a ring indexed by bucket number. */
  private readonly tokens = new Float64Array(BUCKETS);
  private balance = 0;
  /** The bucket (clock time / BUCKET_MS, floored) the newest slot stands for. */
  private bucket = Number.NEGATIVE_INFINITY;
  /** The second the floor is counted for, and the extra attempts made in it, however paid for. */
  private floorSecond = Number.NEGATIVE_INFINITY;
  private floorSpent = 0;
  /** What the floor lent this second, repaid by this second's deposits before they become tokens. */
  private debt = 0;

  constructor(private readonly clock: Clock) {}

  /** A call was sent to the upstream: `ratio` of a retry more may go. */
  deposit(ratio: number): void {
    this.rotate();
    this.enterSecond();
    let amount = Math.round(ratio * WHOLE);
    if (this.debt > 0) {
      const repaid = Math.min(this.debt, amount);
      this.debt -= repaid;
      amount -= repaid;
    }
    const index = this.bucket % BUCKETS;
    this.tokens[index] = this.tokens[index]! + amount;
    this.balance += amount;
  }

  /** Spends one extra attempt; false, spending nothing, when neither the tokens nor this second's floor allow it. */
  tryWithdraw(minPerSecond: number): boolean {
    this.rotate();
    this.enterSecond();
    if (this.balance >= WHOLE) {
      this.spendOldestFirst(WHOLE);
      this.floorSpent++;
      return true;
    }
    if (this.floorSpent < minPerSecond) {
      this.floorSpent++;
      this.debt += WHOLE;
      return true;
    }
    return false;
  }

  /** A new second starts its floor afresh, and forgets what the last one's floor lent. */
  private enterSecond(): void {
    const second = Math.floor(this.clock.now() / 1000);
    if (second === this.floorSecond) return;
    this.floorSecond = second;
    this.floorSpent = 0;
    this.debt = 0;
  }

  /** Tokens that expire soonest go first, so the newest calls' share lasts longest. */
  private spendOldestFirst(amount: number): void {
    this.balance -= amount;
    for (let age = BUCKETS - 1; age >= 0 && amount > 0; age--) {
      const index = (this.bucket - age) % BUCKETS;
      const take = Math.min(amount, this.tokens[index]!);
      this.tokens[index] = this.tokens[index]! - take;
      amount -= take;
    }
  }

  private rotate(): void {
    const bucket = Math.floor(this.clock.now() / BUCKET_MS);
    if (bucket === this.bucket) return;
    if (bucket - this.bucket >= BUCKETS) {
      this.tokens.fill(0);
      this.balance = 0;
    } else {
      for (let b = this.bucket + 1; b <= bucket; b++) {
        const index = b % BUCKETS;
        this.balance -= this.tokens[index]!;
        this.tokens[index] = 0;
      }
    }
    this.bucket = bucket;
  }
}
