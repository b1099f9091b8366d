// The meshlet command line as a user runs it: `node bin/meshlet.js ARGS` from the repository
// root, asynchronously, so that servers in the test process keep answering it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { repoRoot } from '../../src/cli/demo/repo-root.ts';

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command from the repository root, never longer than 20 s. */
export function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: repoRoot, env, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export function meshlet(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  return run(process.execPath, ['bin/meshlet.js', ...args], env);
}

/** A long-running command (`breakers --watch`): its output so far, stopped by its PID. */
export class RunningCommand {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ['bin/meshlet.js', ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }

  signal(name: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(name);
  }
}
