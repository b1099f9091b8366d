// Reads and validates the config file the way every command does: process env, host name.

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { LoadResult } from '../config/types.ts';

/**
 * Loads the config in a short-lived worker (see config-worker.ts). Runs from dist/ as .js and,
 * under a TypeScript loader, as .ts, so the worker's file takes this module's extension.
 */
export function readConfig(path: string): Promise<LoadResult> {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const worker = new Worker(new URL(`./config-worker.${extension}`, import.meta.url), {
    workerData: { path, env: { ...process.env }, hostname: os.hostname() },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (result: LoadResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`config worker exited with code ${code}`));
    });
  });
}
