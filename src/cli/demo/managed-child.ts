// A child process whose stdout is JSON lines (the agent's pino logs, a sample server's ready
// line): lines are kept, bounded, and can be waited for; stop() ends it by its own PID.
// Children still alive when this process exits are killed, so a failed test or a crashed
// demo leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type LogLine = Record<string, unknown>;

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const maxLines = 50_000;
const maxStderrChars = 16_384;
const liveChildren = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

interface Waiter {
  readonly matches: (line: LogLine) => boolean;
  readonly resolve: (line: LogLine) => void;
}

export class ManagedChild {
  readonly pid: number;
  /** Resolves when the process has exited and its output has been read, however it ended. */
  readonly exited: Promise<ExitStatus>;
  private readonly kept: LogLine[] = [];
  private dropped = 0;
  private stderrTail = '';
  private readonly waiters = new Set<Waiter>();
  private status: ExitStatus | undefined;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new Error(`${name} did not start`);
    this.pid = child.pid;
    liveChildren.add(child);
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        liveChildren.delete(child);
        this.status = { code, signal };
        resolve(this.status);
      });
    });
    createInterface({ input: child.stdout! }).on('line', (text) => this.accept(text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-maxStderrChars);
    });
  }

  /**
   * Spawns `node ARGS` with stdout and stderr piped; stdin is closed. With `openFilesLimit`, a
   * shell lowers RLIMIT_NOFILE and then execs node, which keeps the shell's PID; with
   * `networkNamespace`, `ip netns exec` enters it and execs node, which keeps its PID too.
   */
  static spawnNode(name: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; openFilesLimit?: number; networkNamespace?: string }): ManagedChild {
    const limit = options.openFilesLimit;
    let [command, commandArgs]: [string, readonly string[]] = limit === undefined
      ? [process.execPath, args]
      : ['/bin/sh', ['-c', `ulimit -n ${Math.floor(limit)} && exec "$0" "$@"`, process.execPath, ...args]];
    if (options.networkNamespace !== undefined) [command, commandArgs] = ['ip', ['netns', 'exec', options.networkNamespace, command, ...commandArgs]];
    const child = spawn(command, commandArgs, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ManagedChild(name, child);
  }

  /** The stdout lines so far (the latest 50,000), parsed; a line that is not JSON is `{ text }`. */
  lines(): readonly LogLine[] {
    return this.kept;
  }

  /** How many lines have ever arrived; pass it to waitForLine to wait only for later ones. */
  get lineCount(): number {
    return this.dropped + this.kept.length;
  }

  stderr(): string {
    return this.stderrTail;
  }

  /**
   * Resolves with the first line, from the fromLine-th on, that matches; rejects when the
   * process exits first or after timeoutMs, with its stderr in the message.
   */
  waitForLine(matches: (line: LogLine) => boolean, timeoutMs: number, fromLine = 0): Promise<LogLine> {
    const start = Math.max(0, fromLine - this.dropped);
    for (let i = start; i < this.kept.length; i++) {
      const line = this.kept[i]!;
      if (matches(line)) return Promise.resolve(line);
    }
    return new Promise<LogLine>((resolve, reject) => {
      const finish = (error: Error | undefined, line?: LogLine): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (error) reject(error);
        else resolve(line!);
      };
      const waiter: Waiter = { matches, resolve: (line) => finish(undefined, line) };
      const timer = setTimeout(() => finish(this.failure(`no matching line within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.add(waiter);
      void this.exited.then((status) => {
        if (this.waiters.has(waiter)) {
          finish(this.failure(`exited (code ${status.code}, signal ${status.signal}) before the line came`));
        }
      });
    });
  }

  /** Sends a signal to this child's PID unless it has already exited. */
  signal(signal: NodeJS.Signals): void {
    if (!this.status) this.child.kill(signal);
  }

  /** Sends `signal`, then SIGKILL if it has not exited after killAfterMs. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 15_000): Promise<ExitStatus> {
    if (this.status) return this.status;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  private accept(text: string): void {
    const line = parseLine(text);
    this.kept.push(line);
    if (this.kept.length > maxLines) {
      // Dropping half at once keeps the cost per line constant.
      const half = maxLines / 2;
      this.kept.splice(0, half);
      this.dropped += half;
    }
    for (const waiter of this.waiters) {
      if (waiter.matches(line)) waiter.resolve(line);
    }
  }

  private failure(what: string): Error {
    const recent = this.kept.slice(-5).map((line) => JSON.stringify(line)).join('\n');
    return new Error(`${this.name} (pid ${this.pid}) ${what}\n--- last stdout lines ---\n${recent}\n--- stderr ---\n${this.stderrTail}`);
  }
}

function parseLine(text: string): LogLine {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as LogLine;
  } catch {
    // Not JSON: kept as text below.
  }
  return { text };
}
