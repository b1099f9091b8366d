import { parseDurationMs } from './units.ts';
import { percentileOfSorted } from './percentile.ts';

/** The summary h2load prints at the end of a run. */
export interface H2loadSummary {
  readonly durationS: number;
  readonly total: number;
  readonly started: number;
  readonly done: number;
  /** Streams that completed, whatever their :status (and, for gRPC, whatever their grpc-status). */
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  /** Counted when response headers arrive, so it can exceed `succeeded` by the streams cut off at the end. */
  readonly status: { readonly s2xx: number; readonly s3xx: number; readonly s4xx: number; readonly s5xx: number };
}

export function parseH2loadSummary(text: string): H2loadSummary {
  const finished = /^finished in ([\d.]+\w+), /m.exec(text);
  const requests = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(text);
  const status = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(text);
  if (!finished || !requests || !status) throw new Error(`h2load output has no summary:\n${text}`);
  const n = (match: RegExpExecArray, i: number): number => Number(match[i]);
  return {
    durationS: parseDurationMs(finished[1] as string) / 1000,
    total: n(requests, 1),
    started: n(requests, 2),
    done: n(requests, 3),
    succeeded: n(requests, 4),
    failed: n(requests, 5),
    errored: n(requests, 6),
    timeout: n(requests, 7),
    status: { s2xx: n(status, 1), s3xx: n(status, 2), s4xx: n(status, 3), s5xx: n(status, 4) },
  };
}

/** Latency percentiles of the 2xx responses in an h2load `--log-file` (start µs, :status, duration µs). */
export interface H2loadLatency {
  readonly responses2xx: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export function parseH2loadLog(text: string): H2loadLatency {
  const durationsUs: number[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split('\t');
    if (fields.length < 3) continue;
    const status = Number(fields[1]);
    if (status >= 200 && status < 300) durationsUs.push(Number(fields[2]));
  }
  const sorted = Float64Array.from(durationsUs).sort();
  return {
    responses2xx: sorted.length,
    p50Ms: percentileOfSorted(sorted, 0.5) / 1000,
    p99Ms: percentileOfSorted(sorted, 0.99) / 1000,
  };
}
