// Polling for a condition on real processes (membership, balancers): how long it took, or a
// rejection naming what never happened.

/** Polls `check` every `everyMs` (100 by default) until it holds; rejects after `timeoutMs`. Resolves with the milliseconds it took. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
