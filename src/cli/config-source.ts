// Reads and validates the config file the way every command does: process env, host name.

import { fork } from 'node:child_process';
import os from 'node:os';
import type { LoadResult } from '../config/types.ts';

/**
 * Loads the config in a short-lived child process (see config-worker.ts). Runs from dist/ as
 * .js and, under a TypeScript loader, as .ts, so the child's file takes this module's extension.
 */
export function readConfig(path: string): Promise<LoadResult> {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const child = fork(new URL(`./config-worker.${extension}`, import.meta.url), [], {
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (result) => resolve(result as LoadResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`config loader exited with code ${code}`));
    });
    child.send({ path, env: { ...process.env }, hostname: os.hostname() });
  });
}
