// `meshlet demo` end to end, as a new user runs it: it starts its own instances and agent,
// sends its load, reports where every call went, stops everything and exits 0.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/cli/demo/repo-root.ts';

function runDemo(): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/meshlet.js', 'demo'], { cwd: repoRoot, timeout: 40_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal ?? null) : 0, stdout, stderr });
    });
  });
}

describe('meshlet demo', () => {
  it('runs to the end, shows every instance taking calls, and exits 0', async () => {
    const { code, stdout, stderr } = await runDemo();
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    for (const instance of ['catalog-1', 'catalog-2', 'catalog-3', 'payments-1', 'payments-2']) {
      // An instance row: name, upstream, weight, then how many calls it received (not zero).
      expect(stdout).toMatch(new RegExp(`^\\s+${instance}\\s+\\w+\\s+\\d+ \\(\\d+%\\)\\s+[1-9]\\d* \\(`, 'm'));
    }
    expect(stdout).toContain('Every call succeeded.');
    expect(stdout).toContain('Stopped the agent and the sample instances.');
  }, 45_000);
});
