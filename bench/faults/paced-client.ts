// An open-loop client at a fixed rate, as a real caller is: request i is sent at i / rate
// seconds whatever happened to the ones before, so a slow or failing proxy cannot slow the
// offered load down (closed-loop generators hide exactly the pile-ups these scenarios look for).
// Bounded: rate × duration requests, each with a 5 s timeout.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

export interface Sample {
  /** Sent at, in ms since the run started. */
  readonly at: number;
  readonly latencyMs: number;
  /** 0 when no response came (connection error, timeout). */
  readonly status: number;
  readonly instance: string | undefined;
  /** The x-meshlet-fallback header, when the proxy answered by itself. */
  readonly fallback: string | undefined;
}

const REQUEST_TIMEOUT_MS = 5000;

export async function pacedRun(port: number, ratePerSecond: number, durationMs: number, onTick?: (elapsedMs: number) => void): Promise<Sample[]> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 256, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: 30_000 });
  const total = Math.round((ratePerSecond * durationMs) / 1000);
  const samples: Sample[] = [];
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const send = async (at: number): Promise<void> => {
    const sentAt = performance.now();
    try {
      const res = await pool.request({ path: '/work', method: 'GET', headers: { host: 'faults' }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      await res.body.dump();
      const instance = res.headers['x-instance'];
      const fallback = res.headers['x-meshlet-fallback'];
      samples.push({ at, latencyMs: performance.now() - sentAt, status: res.statusCode, instance: typeof instance === 'string' ? instance : undefined, fallback: typeof fallback === 'string' ? fallback : undefined });
    } catch {
      samples.push({ at, latencyMs: performance.now() - sentAt, status: 0, instance: undefined, fallback: undefined });
    }
  };
  for (let i = 0; i < total; i++) {
    const due = (i * 1000) / ratePerSecond;
    const wait = due - (performance.now() - start);
    if (wait > 1) await sleep(wait);
    onTick?.(performance.now() - start);
    pending.push(send(due));
  }
  await Promise.all(pending);
  await pool.close();
  return samples.sort((a, b) => a.at - b.at);
}
