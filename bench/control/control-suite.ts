// The control suite as bench/run.ts calls it: the run, the goal checked on it, the report section.
import type { ProcessGroup } from '../lib/processes.ts';
import type { TargetCheck } from '../lib/targets.ts';
import { evaluateControlGoal, renderControl } from './report.ts';
import { runControl, type ControlOptions, type ControlRun } from './run-control.ts';

export interface ControlSuiteResult {
  readonly run: ControlRun;
  readonly goals: TargetCheck[];
  readonly report: string;
}

export async function runControlSuite(group: ProcessGroup, tmpDir: string, options: ControlOptions, log: (line: string) => void): Promise<ControlSuiteResult> {
  log(`control: 1 meshlet control and ${options.agents} agents, ${options.versions} policy versions`);
  const run = await runControl(group, tmpDir, options, log);
  const goal = evaluateControlGoal(run);
  return { run, goals: [goal], report: renderControl(run, goal) };
}
