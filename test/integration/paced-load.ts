// A paced client for fault tests: a fixed rate for a fixed time (so bounded in count and
// time), each request timed, whatever the answers take: a slow answer does not slow the pace.
import { Agent, request } from 'undici';

export interface PacedResult {
  readonly sent: number;
  /** Status per request, 0 for a transport failure. */
  readonly statuses: number[];
  readonly latenciesMs: number[];
  readonly elapsedMs: number;
}

export async function pacedLoad(options: { url: string; rate: number; seconds: number; headers?: Record<string, string>; onTick?: (sent: number) => void }): Promise<PacedResult> {
  const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 10_000 });
  const total = Math.round(options.rate * options.seconds);
  const intervalMs = 1000 / options.rate;
  const statuses: number[] = [];
  const latenciesMs: number[] = [];
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const one = async (): Promise<void> => {
    const at = performance.now();
    try {
      const res = await request(options.url, { dispatcher, headers: options.headers ?? {}, headersTimeout: 10_000, bodyTimeout: 10_000 });
      await res.body.dump();
      statuses.push(res.statusCode);
    } catch {
      statuses.push(0);
    }
    latenciesMs.push(performance.now() - at);
  };
  try {
    for (let sent = 0; sent < total; sent++) {
      // Catch up to the schedule rather than drift: the pace is kept however the answers go.
      const due = started + sent * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      options.onTick?.(sent);
      pending.push(one());
    }
    await Promise.all(pending);
  } finally {
    await dispatcher.close();
  }
  return { sent: total, statuses, latenciesMs, elapsedMs: performance.now() - started };
}

/** The q-th quantile (0..1) of `values`, by rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}
