// The control section's figures: a version some agent never ACKed is never hidden by a median
// or a percentile, and the goal is checked at p99 of the per-version times.
import { describe, expect, it } from 'vitest';
import { evaluateControlGoal, renderControl } from '../../../bench/control/report.ts';
import type { ControlRun } from '../../../bench/control/run-control.ts';

function run(allAcked: (number | undefined)[]): ControlRun {
  return {
    agents: 3,
    startSeconds: 12.3,
    versions: allAcked.map((ms, i) => ({ version: i + 1, applyMs: 4, allAckedMs: ms, ackMs: ms === undefined ? [1, 2] : [1, 2, ms] })),
    agentRssKiB: [80 * 1024, 82 * 1024, 90 * 1024],
    controlRssKiB: 100 * 1024,
    loadAverage: [0.5, 1.25],
  };
}

describe('control bench report', () => {
  it('passes when every version is on every agent within 1 s, and prints each version', () => {
    const good = run([40, 60, 50]);
    const goal = evaluateControlGoal(good);
    expect(goal).toEqual({ status: 'PASS', target: 'policy in force on 3 agents within 1000 ms at p99', detail: 'p99 60.0 ms over 3 versions' });
    const text = renderControl(good, goal);
    expect(text).toContain('| 3 | 12.3 s | 4.0 | 50.0 | 60.0 | 60.0 | 2.0 | 60.0 | 82.0 | 100.0 |');
    expect(text).toContain('Per version, until the last ACK (ms): v1 40.0, v2 60.0, v3 50.0.');
    expect(text).toContain('Load average (1 min) 0.50 at the start, 1.25 at the end.');
  });

  it('misses the goal when one version never reached every agent', () => {
    const goal = evaluateControlGoal(run([40, undefined, 50]));
    expect(goal.status).toBe('MISS');
    expect(goal.detail).toBe('p99 never ms over 3 versions');
    expect(renderControl(run([40, undefined, 50]), goal)).toContain('v2 never');
  });
});
