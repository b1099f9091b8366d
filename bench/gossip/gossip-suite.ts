// The gossip suite as bench/run.ts calls it: the runs, the goals checked on them, the report
// section, and what the header says about the two systems.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import type { ProcessGroup } from '../lib/processes.ts';
import { REPO_ROOT } from '../lib/paths.ts';
import type { TargetCheck } from '../lib/targets.ts';
import { versionLine } from '../lib/tools.ts';
import { evaluateGossipGoals, renderGossip, tableRow, type GossipInfo } from './report.ts';
import { runGossip, type GossipOptions, type GossipRun } from './run-gossip.ts';

function quiet(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function gossipInfo(): GossipInfo {
  return {
    // Debian's build of 0.9.4 calls itself 0.8.2-dev (the version file it was built from).
    serf: `serf ${quiet('dpkg-query', ['-W', '-f', '${Version}', 'serf'])} (${versionLine('serf', ['version'])})`,
    stressNg: versionLine('stress-ng', ['--version']),
    node: process.version,
    commit: quiet('git', ['rev-parse', '--short', 'HEAD']),
    loadAverage: loadavg()[0] ?? NaN,
  };
}

export interface GossipSuiteResult {
  readonly runs: GossipRun[];
  readonly goals: TargetCheck[];
  readonly report: string;
}

export async function runGossipSuite(group: ProcessGroup, tmpDir: string, options: GossipOptions, info: GossipInfo, log: (line: string) => void): Promise<GossipSuiteResult> {
  const runs = await runGossip(group, tmpDir, options, log, (run) => log(`gossip row: ${tableRow(run)}`));
  const goals = evaluateGossipGoals(runs, options.sizes);
  return { runs, goals, report: renderGossip(runs, options, { ...info, loadAverageAtEnd: loadavg()[0] ?? NaN }, goals) };
}
