// What one health check attempt found, and the bound every checker runs its attempt within:
// the first of the answer and the timeout wins, and the attempt is abandoned either way, so
// no socket or call outlives its check and a target that hangs is a failed check.

import type { Clock } from '../clock.ts';
import { formatDuration } from '../config/duration.ts';

/** `meshlet_health_checks_total{result}`: a timeout is a failure counted apart. */
export type CheckOutcome = 'pass' | 'fail' | 'timeout';

export interface CheckResult {
  readonly outcome: CheckOutcome;
  /** What a user reads in the transition: "HTTP 503", "timeout after 1s", "connect ECONNREFUSED". */
  readonly reason: string;
}

/** One kind of check against one local service; check() never rejects. */
export interface HealthChecker {
  /** `signal` abandons the check at once (the monitor is stopping): it fails as "stopped". */
  check(signal: AbortSignal): Promise<CheckResult>;
  /** Releases what the checker keeps between checks (the gRPC channel). */
  close(): void;
}

export const passed = (reason: string): CheckResult => ({ outcome: 'pass', reason });
export const failed = (reason: string): CheckResult => ({ outcome: 'fail', reason });

const STOPPED = failed('stopped');

export interface CheckBounds {
  readonly clock: Clock;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/**
 * Starts an attempt through `begin`, which returns how to abandon it (destroy the socket,
 * cancel the call). The abandon runs once the result is known, whichever way it came: the
 * answer, the timeout or the signal.
 */
export function boundedCheck({ clock, timeoutMs, signal }: CheckBounds, begin: (settle: (result: CheckResult) => void) => () => void): Promise<CheckResult> {
  if (signal.aborted) return Promise.resolve(STOPPED);
  return new Promise((resolve) => {
    let settled = false;
    let abandon: (() => void) | undefined;
    const onAbort = (): void => settle(STOPPED);
    const settle = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      abandon?.();
      resolve(result);
    };
    const timer = clock.setTimeout(() => settle({ outcome: 'timeout', reason: `timeout after ${formatDuration(timeoutMs)}` }), timeoutMs);
    signal.addEventListener('abort', onAbort);
    try {
      abandon = begin(settle);
    } catch (err) {
      settle(failed(errorReason(err)));
    }
    // Settled while begin ran: its abandon was not there yet.
    if (settled) abandon?.();
  });
}

/** "connect ECONNREFUSED", "read ECONNRESET": the syscall and code a socket error carries, else its message. */
export function errorReason(err: unknown): string {
  const { code, syscall, message } = err as NodeJS.ErrnoException;
  if (code !== undefined && syscall !== undefined) return `${syscall} ${code}`;
  return code ?? message ?? String(err);
}
