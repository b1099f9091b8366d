import { parseDurationMs } from './units.ts';

/** What one `wrk --latency` run reports. */
export interface WrkResult {
  /** Responses read, including non-2xx/3xx ones. */
  readonly requests: number;
  readonly durationS: number;
  readonly non2xx3xx: number;
  /** connect + read + write + timeout socket errors. */
  readonly socketErrors: number;
  readonly latencyMs: { readonly p50: number; readonly p75: number; readonly p90: number; readonly p99: number };
}

export function parseWrkOutput(text: string): WrkResult {
  const total = /^\s*(\d+) requests in ([\d.]+\w+),/m.exec(text);
  if (!total) throw new Error(`wrk output has no "N requests in" line:\n${text}`);
  const percentile = (p: string): number => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+\\w+)\\s*$`, 'm').exec(text);
    if (!match) throw new Error(`wrk output has no ${p}% latency (was --latency given?)`);
    return parseDurationMs(match[1] as string);
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    durationS: parseDurationMs(total[2] as string) / 1000,
    non2xx3xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: socket ? socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0,
    latencyMs: { p50: percentile('50'), p75: percentile('75'), p90: percentile('90'), p99: percentile('99') },
  };
}
