// Reads and validates a config the way every command does: process env, host name. A file
// (the agent's -c, validate) and a document held in memory (what the control plane will
// push) go through the same child process and the same checks.

import { fork } from 'node:child_process';
import os from 'node:os';
import type { LoadResult } from '../config/types.ts';

/** What config-worker.ts is asked to read: a file by path, or the YAML text itself. */
export type ConfigSource = { readonly path: string } | { readonly text: string };

export interface ConfigRequest {
  readonly source: ConfigSource;
  readonly env: Record<string, string | undefined>;
  readonly hostname: string;
}

/** Loads the config file at `path` in a short-lived child process (see config-worker.ts). */
export function readConfig(path: string): Promise<LoadResult> {
  return loadInChild({ path });
}

/** Validates a config document held in memory exactly as a file with this text would be. */
export function readConfigDocument(text: string): Promise<LoadResult> {
  return loadInChild({ text });
}

/**
 * Runs from dist/ as .js and, under a TypeScript loader, as .ts, so the child's file takes
 * this module's extension.
 */
function loadInChild(source: ConfigSource): Promise<LoadResult> {
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
    const request: ConfigRequest = { source, env: { ...process.env }, hostname: os.hostname() };
    child.send(request);
  });
}
