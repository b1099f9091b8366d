// Reads and validates a config the way every command does: process env, host name. A file
// (the agent's -c, validate) and a document held in memory go through the same child process
// and the same checks, and so does either with the control plane's policy merged in.

import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { LoadResult } from '../config/types.ts';

/** What config-worker.ts is asked to read: a file by path, or the YAML text itself. */
export type ConfigSource = { readonly path: string } | { readonly text: string };

export interface ConfigRequest {
  readonly source: ConfigSource;
  /** A policy document (JSON) to merge over the YAML's upstream policies (src/control/effective-config.ts). */
  readonly policy?: string;
  readonly env: Record<string, string | undefined>;
  readonly hostname: string;
}

export interface ConfigResponse {
  readonly result: LoadResult;
  /** The YAML text that was read, when it could be: a later merge of a new policy uses this text, not a file edited since. */
  readonly text?: string;
}

/** Loads the config file at `path` in a short-lived child process (see config-worker.ts). */
export async function readConfig(path: string): Promise<LoadResult> {
  return (await loadConfig({ path })).result;
}

/** Validates a config document held in memory exactly as a file with this text would be. */
export async function readConfigDocument(text: string): Promise<LoadResult> {
  return (await loadConfig({ text })).result;
}

/**
 * A worker forked ahead of need, its modules already loaded, for an agent that takes policy
 * from a control plane: loading zod and the schemas is most of a load's time (hundreds of ms on
 * a busy host), and a snapshot should be in force in milliseconds. It lives in its own process,
 * so the agent's heap still never holds what it loads; it exits with the agent.
 */
let warm: ChildProcess | undefined;
let keepWarm = false;

export function keepConfigWorkerWarm(on: boolean): void {
  keepWarm = on;
  if (on) warm ??= forkWorker(true);
  else {
    warm?.kill();
    warm = undefined;
  }
}

/**
 * Runs from dist/ as .js and, under a TypeScript loader, as .ts, so the child's file takes
 * this module's extension.
 */
function forkWorker(ahead: boolean): ChildProcess {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const child = fork(new URL(`./config-worker.${extension}`, import.meta.url), ahead ? ['--warm'] : [], {
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  // Waiting idle, it must not keep the agent alive.
  child.unref();
  child.channel?.unref();
  return child;
}

export function loadConfig(source: ConfigSource, policy?: string): Promise<ConfigResponse> {
  const child = warm ?? forkWorker(false);
  warm = keepWarm ? forkWorker(true) : undefined;
  child.ref();
  child.channel?.ref();
  return new Promise((resolve, reject) => {
    child.once('message', (response) => resolve(response as ConfigResponse));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`config loader exited with code ${code}`));
    });
    const request: ConfigRequest = { source, ...(policy !== undefined ? { policy } : {}), env: { ...process.env }, hostname: os.hostname() };
    child.send(request);
  });
}
