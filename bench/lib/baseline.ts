import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// `--against REF` runs the agent of another commit next to this checkout's. That commit is
// checked out as a detached git worktree under node_modules/.cache (ignored by git, tsc,
// eslint and vitest), one folder per commit, kept so the next run at that commit reuses it;
// it shares the repository's node_modules through a symlink and builds its dist/ itself.

/** The commit a `meshlet-base` row runs, ready to start. */
export interface Baseline {
  /** The ref as given on the command line. */
  readonly ref: string;
  readonly commit: string;
  readonly shortCommit: string;
  readonly subject: string;
  /** The worktree of that commit, with its dist/ built. */
  readonly dir: string;
  /** That commit's `AGENT_V8_FLAGS` on this Node; none for commits from before the agent had any. */
  readonly v8Flags: readonly string[];
}

/** The report's name for the baseline row: `meshlet@<short sha>`. */
export function baselineLabel(baseline: Pick<Baseline, 'shortCommit'>): string {
  return `meshlet@${baseline.shortCommit}`;
}

interface Run {
  readonly ok: boolean;
  readonly status: string;
  readonly output: string;
}

function run(command: string, args: readonly string[], cwd: string): Run {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const status = result.error ? result.error.message : `exit ${result.status ?? result.signal}`;
  return { ok: result.status === 0, status, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

function git(cwd: string, args: readonly string[]): string {
  const result = run('git', args, cwd);
  if (!result.ok) throw new Error(`git ${args.join(' ')} failed (${result.status}): ${result.output}`);
  return result.output;
}

/** Commit of `ref` in the repository at `repoRoot`; throws naming the ref when there is none. */
export function resolveCommit(repoRoot: string, ref: string): string {
  const result = ref.startsWith('-') ? undefined : run('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], repoRoot);
  if (!result?.ok) throw new Error(`--against ${ref}: not a commit in ${repoRoot}`);
  return result.output;
}

/** True when `dir` is a worktree checked out at `commit` with no changes to tracked files. */
function isCheckoutOf(dir: string, commit: string): boolean {
  if (!existsSync(join(dir, '.git'))) return false;
  const head = run('git', ['rev-parse', 'HEAD'], dir);
  const status = run('git', ['status', '--porcelain', '--untracked-files=no'], dir);
  return head.ok && head.output === commit && status.ok && status.output === '';
}

/** A detached worktree of `commit` in `dir`, the one already there when it is at that commit. */
function checkOut(repoRoot: string, dir: string, commit: string): void {
  if (isCheckoutOf(dir, commit)) return;
  rmSync(dir, { recursive: true, force: true });
  // -f: git may still list the folder as a worktree whose directory went missing.
  git(repoRoot, ['worktree', 'add', '-f', '--detach', dir, commit]);
}

/** Builds dist/ the way that commit builds it (its `npm run build`; commits from before dist/ have none). */
function build(dir: string, ref: string, shortCommit: string): void {
  const result = run('npm', ['run', 'build', '--if-present'], dir);
  if (!result.ok) throw new Error(`--against ${ref}: building ${shortCommit} failed (npm run build, ${result.status}):\n${result.output.slice(-4000)}`);
  if (!existsSync(join(dir, 'bin', 'meshlet.js'))) throw new Error(`--against ${ref}: ${shortCommit} has no bin/meshlet.js`);
}

async function agentV8Flags(dir: string, ref: string): Promise<readonly string[]> {
  const module = join(dir, 'dist', 'cli', 'agent-v8-flags.js');
  if (!existsSync(module)) return [];
  const { AGENT_V8_FLAGS: flags } = (await import(pathToFileURL(module).href)) as { AGENT_V8_FLAGS?: unknown };
  if (!Array.isArray(flags) || !flags.every((flag) => typeof flag === 'string')) {
    throw new Error(`--against ${ref}: dist/cli/agent-v8-flags.js exports no AGENT_V8_FLAGS array`);
  }
  return flags;
}

/**
 * Resolves `ref`, checks it out under `cacheDir` (reusing a checkout of that commit), links the
 * repository's node_modules into it and builds it. Throws a message meant for the user when the
 * ref is no commit or the commit does not build.
 */
export async function prepareBaseline(repoRoot: string, cacheDir: string, ref: string): Promise<Baseline> {
  const commit = resolveCommit(repoRoot, ref);
  const shortCommit = git(repoRoot, ['rev-parse', '--short', commit]);
  const subject = git(repoRoot, ['show', '-s', '--format=%s', commit]);
  mkdirSync(cacheDir, { recursive: true });
  // One path for the folder whoever asks: node_modules itself may be a symlink shared by worktrees.
  const dir = join(realpathSync(cacheDir), commit);
  checkOut(repoRoot, dir, commit);
  const nodeModules = join(dir, 'node_modules');
  if (!existsSync(nodeModules)) symlinkSync(realpathSync(join(repoRoot, 'node_modules')), nodeModules);
  build(dir, ref, shortCommit);
  return { ref, commit, shortCommit, subject, dir, v8Flags: await agentV8Flags(dir, ref) };
}
