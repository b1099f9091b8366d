// How long a retry waits: exponential backoff with full jitter, unless the server said how long
// (retry-after on HTTP, grpc-retry-pushback-ms on gRPC, which also may say "do not retry").

import type { OutgoingHttpHeaders } from 'node:http';
import type { Random } from '../clock.ts';
import type { RetryRules } from './retry-rules.ts';

/**
 * Full jitter (AWS's "Exponential Backoff And Jitter"): uniform over [0, min(max, base × 2^n))
 * for the n-th retry (n from 0), so retries of many calls that failed together spread out.
 */
export function backoffMs(retry: number, rules: RetryRules, random: Random): number {
  return fullJitterMs(retry, rules.backoffBaseMs, rules.backoffMaxMs, random);
}

/** Uniform over [0, min(capMs, baseMs × 2^n)) for the n-th try from 0 (also the control client's reconnects). */
export function fullJitterMs(n: number, baseMs: number, capMs: number, random: Random): number {
  return random() * Math.min(capMs, baseMs * 2 ** n);
}

/** What the response says of retrying it: a wait in ms, nothing (undefined), or no retry at all. */
export type ServerDelay = number | undefined | 'refused';

/** Past this a server's wait is not waited for when the call has no deadline to bound it. */
export const SERVER_DELAY_CAP_MS = 30_000;

const DELTA_SECONDS = /^\d+$/;
const PUSHBACK_MS = /^\d+$/;

/** retry-after (RFC 9110 §10.2.3): delta-seconds or an HTTP-date; an unreadable one is ignored. */
export function retryAfterMs(value: string, wallNow: number): number | undefined {
  if (DELTA_SECONDS.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - wallNow);
}

/**
 * The server's word on a retryable response: grpc-retry-pushback-ms for gRPC (gRFC A6: a
 * negative or malformed value means do not retry), else retry-after.
 */
export function serverDelay(headers: OutgoingHttpHeaders, grpc: boolean, wallNow: number): ServerDelay {
  if (grpc) {
    const pushback = headers['grpc-retry-pushback-ms'];
    if (pushback === undefined) return undefined;
    const text = String(pushback);
    return PUSHBACK_MS.test(text) ? Number(text) : 'refused';
  }
  const retryAfter = headers['retry-after'];
  return retryAfter === undefined ? undefined : retryAfterMs(String(retryAfter), wallNow);
}
