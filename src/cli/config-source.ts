// Reads and validates a config the way every command does: process env, host name. A file
// (the agent's -c, validate) and a document held in memory go through the same child process
// (or the same worker thread, config-worker.ts) and the same checks, and so does either with
// the control plane's policy merged in.

import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
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
 * A worker thread kept warm, its modules loaded and its schemas compiled, for an agent that
 * takes policy from a control plane: loading zod and the schemas is most of a load's time
 * (hundreds of ms on a busy host), and a snapshot should be in force in milliseconds. It used
 * to be a pre-forked process, which cost a whole idle Node process (about 60 MiB RSS) per agent;
 * a thread shares the agent's process and costs its isolate and what it loaded. Its heap is
 * capped, so a document that exhausts it fails that load (and the thread is replaced), not
 * the agent; it ends with the agent.
 */
export interface ThreadRequest {
  readonly id: number;
  readonly request: ConfigRequest;
}

export interface ThreadResponse {
  readonly id: number;
  readonly response: ConfigResponse;
}

/** Far above what a config and a 4 MiB policy document need; below anything that hurts the host. */
export const CONFIG_THREAD_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 2 };

class ConfigThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (response: ConfigResponse) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private ended = false;

  constructor(private readonly onEnd: (thread: ConfigThread) => void) {
    this.worker = new Worker(workerUrl(), { resourceLimits: CONFIG_THREAD_LIMITS, stdout: false, stderr: false });
    // Waiting idle, it must not keep the agent alive.
    this.worker.unref();
    this.worker.on('message', ({ id, response }: ThreadResponse) => {
      this.pending.get(id)?.resolve(response);
      this.pending.delete(id);
      if (this.pending.size === 0) this.worker.unref();
    });
    this.worker.on('error', (error) => this.end(error));
    this.worker.on('exit', (code) => this.end(new Error(`config loader thread exited with code ${code}`)));
  }

  load(request: ConfigRequest): Promise<ConfigResponse> {
    if (this.ended) return Promise.reject(new Error('config loader thread ended'));
    const id = this.nextId++;
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, request } satisfies ThreadRequest);
    });
  }

  terminate(): void {
    this.ended = true;
    void this.worker.terminate();
  }

  private end(error: Error): void {
    if (!this.ended) {
      this.ended = true;
      this.onEnd(this);
    }
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

let warm: ConfigThread | undefined;
let keepWarm = false;

export function keepConfigWorkerWarm(on: boolean): void {
  keepWarm = on;
  if (on) warm ??= startThread();
  else {
    warm?.terminate();
    warm = undefined;
  }
}

function startThread(): ConfigThread {
  return new ConfigThread((ended) => {
    // Out of heap or crashed: the next load gets a fresh one.
    if (warm === ended) warm = keepWarm ? startThread() : undefined;
  });
}

/**
 * Runs from dist/ as .js and, under a TypeScript loader, as .ts, so the worker's file takes
 * this module's extension.
 */
function workerUrl(): URL {
  return new URL(`./config-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
}

function forkWorker(): ChildProcess {
  return fork(workerUrl(), [], {
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

export function loadConfig(source: ConfigSource, policy?: string): Promise<ConfigResponse> {
  const request: ConfigRequest = { source, ...(policy !== undefined ? { policy } : {}), env: { ...process.env }, hostname: os.hostname() };
  if (warm) return warm.load(request);
  const child = forkWorker();
  return new Promise((resolve, reject) => {
    child.once('message', (response) => resolve(response as ConfigResponse));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`config loader exited with code ${code}`));
    });
    child.send(request);
  });
}
