import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './paths.ts';

// Every process the bench starts goes through one ProcessGroup, pinned to a CPU (or a list of
// them) with taskset (which execs the command, so the PID is the command's own), and is stopped
// by that PID.

const OUTPUT_TAIL_CHARS = 4096;

/** One CPU, or several (stress-ng loading both cores). */
export type Cpus = number | readonly number[];

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<number | null>;
  isRunning(): boolean;
  /** SIGTERM, for a process that started but is not fit to measure. */
  terminate(): void;
  /** The last few KiB of stdout and stderr, for error messages. */
  outputTail(): string;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export class ProcessGroup {
  private readonly children = new Set<ChildProcess>();

  /**
   * Starts a long-running process pinned to `cpu`; its output is kept only as a short tail, and
   * given line by line to `onLine` when there is one (an agent's log is how Serf reports changes).
   */
  start(name: string, cpu: Cpus, command: string, args: readonly string[], onLine?: (line: string) => void): ManagedProcess {
    const child = this.spawnPinned(cpu, command, args);
    let tail = '';
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    if (onLine) {
      for (const stream of [child.stdout, child.stderr]) stream?.on('data', lineSplitter(onLine));
    }
    let running = true;
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        running = false;
        resolve(code);
      });
    });
    return { name, pid: child.pid as number, exited, isRunning: () => running, terminate: () => child.kill('SIGTERM'), outputTail: () => tail };
  }

  /** Runs a process pinned to `cpu` to completion; killed if it outlives `timeoutMs`. */
  async run(cpu: Cpus, command: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
    const child = this.spawnPinned(cpu, command, args);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(timer);
    return { code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), timedOut };
  }

  /** SIGTERM to each process still running, SIGKILL to any left after `graceMs`. */
  async stopAll(graceMs = 2000): Promise<void> {
    const alive = [...this.children];
    for (const child of alive) child.kill('SIGTERM');
    const deadline = sleep(graceMs, undefined, { ref: false });
    await Promise.race([Promise.all(alive.map((child) => exitOf(child))), deadline]);
    this.killAllNow();
  }

  /** For signal handlers: SIGKILL to every process still running, synchronously. */
  killAllNow(): void {
    for (const child of this.children) child.kill('SIGKILL');
  }

  private spawnPinned(cpu: Cpus, command: string, args: readonly string[]): ChildProcess {
    const child = spawn('taskset', ['-c', typeof cpu === 'number' ? String(cpu) : cpu.join(','), command, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }
}

/** Whole lines out of a stream's chunks; a line split across chunks is given once it is complete. */
export function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  let partial = '';
  return (chunk) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  };
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
