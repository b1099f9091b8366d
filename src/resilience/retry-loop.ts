// The attempts of a call after its first retryable failure, as a p-retry loop. The retry step
// keeps every decision, taken synchronously where the failure is seen; this loop carries it
// out: p-retry's attempt 1 is that first failure, each later attempt is one the step sends, and
// the wait between two is the step's own delay on the injected Clock (p-retry's timing is off,
// so it never touches a global timer). Made on the failure path only.

import pRetry, { AbortError, type RetryContext } from 'p-retry';
import type { Clock, TimerHandle } from '../clock.ts';

/** How an attempt's promise rejects when the step retries it: not a TypeError, which p-retry never retries. */
const RETRY_DECIDED = new Error('the retry step sends this call again');
/** How the loop ends when the step has passed the failure up, or the call was cancelled. */
const LOOP_ENDED = new Error('the retry step has given the call its outcome');
const END = new AbortError(LOOP_ENDED);

export interface RetryLoopHost {
  /** Sends the next attempt; its outcome comes back through retried(), answered() or ended(). */
  send(): void;
  /** Something other than the step's own decisions ended the loop: a bug, which fails the call rather than leave it hanging. */
  loopBroke(err: unknown): void;
}

export class RetryLoop {
  private readonly controller = new AbortController();
  /** The promise p-retry awaits for the attempt out now. */
  private settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private waitTimer: TimerHandle | undefined;
  private waitOver: (() => void) | undefined;

  /** Starts the loop after the first attempt failed and the step decided to retry it after `delayMs`. */
  constructor(
    private readonly clock: Clock,
    private readonly host: RetryLoopHost,
    attempts: number,
    private delayMs: number,
  ) {
    pRetry(this.attempt, {
      retries: attempts - 1,
      minTimeout: 0,
      signal: this.controller.signal,
      onFailedAttempt: this.wait,
      shouldRetry: retryDecided,
    }).catch(this.loopEnded);
  }

  /** The attempt out now failed and the step sends another after `delayMs`. */
  retried(delayMs: number): void {
    this.delayMs = delayMs;
    this.takeSettle()?.reject(RETRY_DECIDED);
  }

  /** The attempt out now gave the client its response head. */
  answered(): void {
    this.takeSettle()?.resolve();
  }

  /** The step passed a failure up: nothing more is sent. */
  ended(): void {
    this.takeSettle()?.reject(END);
  }

  /** The call is cancelled: the wait, if one runs, stops and its timer goes, and nothing more is sent. */
  cancel(): void {
    this.controller.abort(LOOP_ENDED);
    if (this.waitTimer !== undefined) this.clock.clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    this.waitOver?.();
    this.waitOver = undefined;
    this.ended();
  }

  private takeSettle(): RetryLoop['settle'] {
    const settle = this.settle;
    this.settle = undefined;
    return settle;
  }

  private readonly attempt = (attemptNumber: number): Promise<void> => {
    if (attemptNumber === 1) return Promise.reject(RETRY_DECIDED);
    // Sent from inside the executor: a throw rejects the promise p-retry awaits, so none is left unawaited.
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      this.host.send();
    });
  };

  private readonly wait = (context: RetryContext): Promise<void> | undefined => {
    if (context.error !== RETRY_DECIDED || this.controller.signal.aborted) return undefined;
    return new Promise((resolve) => {
      this.waitOver = resolve;
      this.waitTimer = this.clock.setTimeout(() => {
        this.waitTimer = undefined;
        resolve();
      }, this.delayMs);
    });
  };

  /** Only the step ends the loop; any other end (p-retry giving up on a retry the step decided, a throw) is a bug. */
  private readonly loopEnded = (err: unknown): void => {
    if (err !== LOOP_ENDED) this.host.loopBroke(err);
  };
}

const retryDecided = (context: RetryContext): boolean => context.error === RETRY_DECIDED;
