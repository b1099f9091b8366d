import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareBaseline } from '../../../bench/lib/baseline.ts';

// A throwaway repository laid out like meshlet's: the bench's cache sits in its own
// node_modules/.cache, and each commit's `npm run build` writes dist/.
let repo: string;
let cacheDir: string;
const commits: Record<'flags' | 'noBuild' | 'broken', string> = { flags: '', noBuild: '', broken: '' };

function git(...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...args], { cwd: repo, encoding: 'utf8' }).trim();
}

function commit(message: string, buildScript: string | undefined): string {
  const scripts = buildScript === undefined ? {} : { build: buildScript };
  writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'fake-meshlet', type: 'module', scripts }));
  git('add', '-A');
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

const WRITE_FLAGS_MODULE = `node -e "require('fs').mkdirSync('dist/cli',{recursive:true});require('fs').writeFileSync('dist/cli/agent-v8-flags.js','export const AGENT_V8_FLAGS = [\\"--max-semi-space-size=4\\"];')"`;

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'meshlet-baseline-test-'));
  cacheDir = join(repo, 'node_modules', '.cache', 'meshlet-bench', 'baselines');
  git('init', '-q');
  mkdirSync(join(repo, 'bin'));
  mkdirSync(join(repo, 'node_modules'));
  writeFileSync(join(repo, 'bin', 'meshlet.js'), '');
  writeFileSync(join(repo, '.gitignore'), 'node_modules\ndist/\n');
  commits.noBuild = commit('before dist/: no build script', undefined);
  commits.flags = commit('builds dist/ with agent V8 flags', WRITE_FLAGS_MODULE);
  commits.broken = commit('does not build', 'node -e "console.error(\'src/x.ts: error TS2322\'); process.exit(2)"');
});

afterAll(() => {
  rmSync(repo, { recursive: true, force: true });
});

describe('prepareBaseline', () => {
  it('refuses a ref that names no commit, before touching the cache', async () => {
    await expect(prepareBaseline(repo, cacheDir, 'no-such-branch')).rejects.toThrow(`--against no-such-branch: not a commit in ${repo}`);
    await expect(prepareBaseline(repo, cacheDir, '--all')).rejects.toThrow('--against --all: not a commit');
    expect(() => lstatSync(cacheDir)).toThrow();
  });

  it("checks the commit out in the cache, links the repository's node_modules, builds it and reads its V8 flags", async () => {
    const baseline = await prepareBaseline(repo, cacheDir, 'HEAD~1');
    expect(baseline).toMatchObject({ ref: 'HEAD~1', commit: commits.flags, subject: 'builds dist/ with agent V8 flags', v8Flags: ['--max-semi-space-size=4'] });
    expect(commits.flags.startsWith(baseline.shortCommit)).toBe(true);
    expect(baseline.dir.startsWith(cacheDir)).toBe(true);
    expect(execFileSync('git', ['rev-parse', 'HEAD'], { cwd: baseline.dir, encoding: 'utf8' }).trim()).toBe(commits.flags);
    expect(readlinkSync(join(baseline.dir, 'node_modules'))).toBe(realpathSync(join(repo, 'node_modules')));
    expect(git('status', '--porcelain')).toBe('');
  });

  it('reuses the checkout of a commit it made before', async () => {
    const first = await prepareBaseline(repo, cacheDir, commits.flags);
    writeFileSync(join(first.dir, 'left-by-the-first-run'), '');
    const second = await prepareBaseline(repo, cacheDir, 'HEAD~1');
    expect(second.dir).toBe(first.dir);
    expect(lstatSync(join(second.dir, 'left-by-the-first-run')).isFile()).toBe(true);
  });

  it('runs a commit from before the agent had V8 flags with none', async () => {
    const baseline = await prepareBaseline(repo, cacheDir, commits.noBuild);
    expect(baseline.v8Flags).toEqual([]);
  });

  it("says so, with the build's output, when the commit does not build", async () => {
    await expect(prepareBaseline(repo, cacheDir, 'HEAD')).rejects.toThrow(/--against HEAD: building [0-9a-f]+ failed \(npm run build, exit 2\):[\s\S]*src\/x\.ts: error TS2322/);
  });
});
