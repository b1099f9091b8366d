// What an upstream lets its calls send beyond their first attempt: a retry or a hedge goes only
// while fewer than policy.limits.maxRetries retries are in flight (Envoy's max_retries) and
// while the shared retry budget has room. Lives as long as the upstream, across reloads, so
// the budget's window and the in-flight count carry on; the rules come from each call's settings.

import type { Clock } from '../clock.ts';
import type { DecisionCounter } from '../observability/decisions.ts';
import type { UpstreamMetrics } from '../observability/metrics.ts';
import { RetryBudget, TOKEN_LIFE_MS } from './retry-budget.ts';
import type { BudgetRules } from './retry-rules.ts';

export type ExtraAttemptKind = 'retry' | 'hedge';

export class ExtraAttempts {
  private readonly budget: RetryBudget;
  /** Retries scheduled or out now; each is released once its attempt ends. */
  private retriesInFlight = 0;
  /** The budget of the latest refusal, for the decision's reason (read only when it is published). */
  private refusedUnder: BudgetRules | undefined;

  constructor(
    clock: Clock,
    private readonly metrics: UpstreamMetrics,
    private readonly exhausted: DecisionCounter,
  ) {
    this.budget = new RetryBudget(clock);
  }

  /** A call with a retry or hedge policy started: it adds its share to the budget. */
  callStarted(budget: BudgetRules | undefined): void {
    if (budget !== undefined) this.budget.deposit(budget.ratio);
  }

  /**
   * Whether one more attempt may go: a retry within `maxRetries` in flight, either kind within
   * the budget. A refusal is counted and, for the budget, recorded as a decision.
   */
  admit(kind: ExtraAttemptKind, budget: BudgetRules | undefined, maxRetries = Infinity): boolean {
    if (kind === 'retry' && this.retriesInFlight >= maxRetries) {
      this.metrics.retryOverflow();
      return false;
    }
    if (budget !== undefined && !this.budget.tryWithdraw(budget.minPerSecond)) {
      this.metrics.budgetExhausted(kind);
      this.refusedUnder = budget;
      this.exhausted.hit(this.describeExhaustion, { kind, ratio: budget.ratio, minPerSecond: budget.minPerSecond });
      return false;
    }
    if (kind === 'retry') this.retriesInFlight++;
    return true;
  }

  /** A retry admit() let go has ended (answered, failed or cancelled). */
  retryEnded(): void {
    this.retriesInFlight--;
  }

  get inFlight(): number {
    return this.retriesInFlight;
  }

  private readonly describeExhaustion = (): string => {
    const budget = this.refusedUnder;
    return budget === undefined
      ? 'retry budget exhausted'
      : `retry budget exhausted: extra attempts already spent ${Math.round(budget.ratio * 100)} % of the calls of the last ${TOKEN_LIFE_MS / 1000} s and the floor of ${budget.minPerSecond} per second`;
  };
}
