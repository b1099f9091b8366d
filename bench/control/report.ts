// The control section of the bench report: how long a policy version takes to be in force on
// every agent, what an idle agent costs, and the issue's goal checked on it.
import { median, percentileOfSorted } from '../lib/percentile.ts';
import type { TargetCheck } from '../lib/targets.ts';
import type { ControlRun, VersionTiming } from './run-control.ts';

/** Issue 10: a policy applied is in force on 50 agents within 1 s at p99. */
export const ALL_ACKED_GOAL_MS = 1000;
const MIB = 1024;

/** A version some agent never ACKed counts as infinitely slow, so no figure hides it. */
function allAcked(versions: readonly VersionTiming[]): number[] {
  return versions.map((v) => v.allAckedMs ?? Infinity).sort((a, b) => a - b);
}

function ms(value: number): string {
  if (Number.isNaN(value)) return '—';
  return Number.isFinite(value) ? value.toFixed(1) : 'never';
}

export function evaluateControlGoal(run: ControlRun): TargetCheck {
  const target = `policy in force on ${run.agents} agents within ${ALL_ACKED_GOAL_MS} ms at p99`;
  if (run.versions.length === 0) return { status: 'SKIP', target, detail: run.error ?? 'not measured' };
  const p99 = percentileOfSorted(allAcked(run.versions), 0.99);
  return { status: p99 < ALL_ACKED_GOAL_MS ? 'PASS' : 'MISS', target, detail: `p99 ${ms(p99)} ms over ${run.versions.length} versions` };
}

export function renderControl(run: ControlRun, goal: TargetCheck): string {
  const sorted = allAcked(run.versions);
  const perAgent = run.versions.flatMap((v) => v.ackMs).sort((a, b) => a - b);
  const lines = [
    `## Control plane: ${run.agents} agents, ${run.versions.length} policy versions`,
    '',
    'One `meshlet control` and real agent processes (`bin/meshlet.js agent`, one listener, one static upstream, `control.address`), all on this machine\'s two cores. Each version is applied after the previous one is on every agent (and a 1 s pause); its time runs from ApplyPolicy\'s return to the last agent\'s ACK as the control plane\'s WatchMesh stream reports it (timed on arrival, sub-millisecond resolution). RSS is read from /proc after the last version, with every agent idle.',
    '',
    '| agents | agents connected after | apply (median ms) | all acked: median ms | p99 ms | max ms | one agent\'s ACK: p50 ms | p99 ms | agent RSS median MiB | control RSS MiB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    `| ${run.agents} | ${run.startSeconds.toFixed(1)} s | ${ms(median(run.versions.map((v) => v.applyMs)))} | ${ms(median(sorted))} | ${ms(percentileOfSorted(sorted, 0.99))} | ${ms(sorted[sorted.length - 1] ?? NaN)} | ${ms(percentileOfSorted(perAgent, 0.5))} | ${ms(percentileOfSorted(perAgent, 0.99))} | ${run.agentRssKiB.length === 0 ? '—' : (median([...run.agentRssKiB]) / MIB).toFixed(1)} | ${(run.controlRssKiB / MIB).toFixed(1)} |`,
    '',
    `Per version, until the last ACK (ms): ${run.versions.map((v) => `v${v.version} ${ms(v.allAckedMs ?? Infinity)}`).join(', ') || '—'}.`,
    '',
    `Load average (1 min) ${run.loadAverage[0].toFixed(2)} at the start, ${run.loadAverage[1].toFixed(2)} at the end.`,
    '',
    `${goal.status} ${goal.target}: ${goal.detail}`,
  ];
  if (run.error) lines.push('', `The run stopped early: ${run.error}`);
  return `${lines.join('\n')}\n`;
}
