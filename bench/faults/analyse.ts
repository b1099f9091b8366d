// What a fault run shows a caller and an operator: the client's success rate and latency during
// the fault, the bad instance's share of traffic once detection had its chance, how long until
// it stopped getting traffic, and what reached the instances (amplification, connection attempts)
// or, for a killed one, what its proxy still sent it.
import { percentileOfSorted } from '../lib/percentile.ts';
import type { InstanceStats } from './instances.ts';
import type { Sample } from './paced-client.ts';

export interface Poll {
  /** ms since the run started */
  readonly at: number;
  /** Per instance, undefined once it is gone. */
  readonly stats: readonly (InstanceStats | undefined)[];
}

export interface FaultResult {
  readonly requests: number;
  /** 2xx answers from an instance during the fault, in percent of the requests sent during it. */
  readonly successPercent: number;
  readonly fallbacks: number;
  readonly healthyP99Ms: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** p99 over the fault's last 5 s, once detection (breakers, ejections) had its time. */
  readonly tailP99Ms: number;
  /** The bad instance's share of what the instances received in the fault's last 5 s. */
  readonly badSharePercent: number | undefined;
  /** From the fault until the bad instance's share stayed under 5 %; null: it never did. */
  readonly timeToStopMs: number | null | undefined;
  /** Requests the instances received during the fault per request the client sent in it. */
  readonly amplification: number;
  /** TCP connections the instances accepted in the fault's last 5 s (none should while a breaker is open). */
  readonly tailAccepts: number;
  /** Request attempts the proxy sent a killed instance after its death, by the proxy's counters; undefined when none was killed. */
  readonly deadAttempts: number | undefined;
}

const STOPPED_SHARE = 0.05;
const SHARE_TAIL_MS = 5000;

/** The counters at each poll, a dead instance keeping the last value it reported. */
function carriedForward(polls: readonly Poll[]): Poll[] {
  const last: (InstanceStats | undefined)[] = [];
  return polls.map((poll) => ({ at: poll.at, stats: poll.stats.map((s, i) => (last[i] = s ?? last[i])) }));
}

/** What the instances (or one of them) counted between `from` and `to`, by the polls nearest before each. */
function counted(polls: readonly Poll[], from: number, to: number, pick: (s: InstanceStats) => number, instance?: number): number {
  const before = (t: number): Poll => polls.findLast((p) => p.at <= t) ?? polls[0]!;
  const total = (poll: Poll) => poll.stats.reduce((sum, s, i) => sum + (s !== undefined && (instance === undefined || i === instance) ? pick(s) : 0), 0);
  return Math.max(0, total(before(to)) - total(before(from)));
}

export function analyse(samples: readonly Sample[], rawPolls: readonly Poll[], faultAtMs: number, endMs: number, bad: number | undefined, deadAttempts?: number): FaultResult {
  const polls = carriedForward(rawPolls);
  const healthy = samples.filter((s) => s.at >= 1000 && s.at < faultAtMs);
  const during = samples.filter((s) => s.at >= faultAtMs);
  const latencies = Float64Array.from(during.map((s) => s.latencyMs)).sort();
  const tailLatencies = Float64Array.from(during.filter((s) => s.at >= endMs - SHARE_TAIL_MS).map((s) => s.latencyMs)).sort();
  const healthyLatencies = Float64Array.from(healthy.map((s) => s.latencyMs)).sort();
  const ok = during.filter((s) => s.status >= 200 && s.status < 300 && s.fallback === undefined).length;
  const requests = (p: InstanceStats) => p.requests;
  let badSharePercent: number | undefined;
  let timeToStopMs: number | null | undefined;
  if (bad !== undefined) {
    const tailFrom = endMs - SHARE_TAIL_MS;
    const all = counted(polls, tailFrom, endMs, requests);
    badSharePercent = all === 0 ? 0 : (100 * counted(polls, tailFrom, endMs, requests, bad)) / all;
    // The last 500 ms window at or over the share decides when it stopped.
    timeToStopMs = 0;
    const step = 500;
    for (let from = faultAtMs; from + step <= endMs; from += step) {
      const total = counted(polls, from, from + step, requests);
      const mine = counted(polls, from, from + step, requests, bad);
      if (total > 0 && mine / total >= STOPPED_SHARE) timeToStopMs = from + step - faultAtMs;
    }
    if (timeToStopMs >= endMs - faultAtMs - step) timeToStopMs = null;
  }
  return {
    requests: during.length,
    successPercent: during.length === 0 ? 0 : (100 * ok) / during.length,
    fallbacks: during.filter((s) => s.fallback !== undefined).length,
    healthyP99Ms: percentileOfSorted(healthyLatencies, 0.99),
    p50Ms: percentileOfSorted(latencies, 0.5),
    p99Ms: percentileOfSorted(latencies, 0.99),
    maxMs: latencies.length === 0 ? NaN : latencies[latencies.length - 1]!,
    tailP99Ms: percentileOfSorted(tailLatencies, 0.99),
    badSharePercent,
    timeToStopMs,
    amplification: during.length === 0 ? 0 : counted(polls, faultAtMs, endMs, requests) / during.length,
    tailAccepts: counted(polls, endMs - SHARE_TAIL_MS, endMs, (s) => s.accepts),
    deadAttempts,
  };
}
