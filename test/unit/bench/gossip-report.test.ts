import { describe, expect, it } from 'vitest';
import { evaluateGossipGoals, maxMs, medianMs, renderGossip } from '../../../bench/gossip/report.ts';
import type { GossipOptions, GossipResult, GossipRun } from '../../../bench/gossip/run-gossip.ts';

function result(over: Partial<GossipResult> = {}): GossipResult {
  return {
    joinMs: [400, 350, 500],
    detectionMs: [6000, 6500, 7000],
    firstSuspicionMs: [1200, undefined, 2100],
    stress: { seconds: 60, suspicions: 4, deaths: 0, recovered: true },
    traffic: { bytesPerSecondPerMember: 300, tcpShare: 0.25, maxMemberBytesPerSecond: 700 },
    rssKiB: [12 * 1024, 13 * 1024, 14 * 1024],
    cpuMsPerSecond: [2, 2.5, 3.1],
    notes: [],
    ...over,
  };
}

const run = (system: 'meshlet' | 'serf', n: number, r: GossipResult | undefined, error?: string): GossipRun => ({ system, n, result: r, ...(error ? { error } : {}) });
const OPTIONS: GossipOptions = { sizes: [10, 25], systems: ['meshlet', 'serf'], stressS: 60, idleS: 30, kills: 3 };
const statuses = (runs: GossipRun[], sizes = [10]): Record<string, string> => Object.fromEntries(evaluateGossipGoals(runs, sizes).map((g) => [g.target, g.status]));

describe('medians and maxima of timings', () => {
  it('takes a timing that never finished as infinitely slow, so neither the median nor the max hides it', () => {
    expect(medianMs([6000, 6500, 7000])).toBe(6500);
    expect(medianMs([6000, 7000])).toBe(6500);
    expect(medianMs([6000, undefined, undefined])).toBe(Infinity);
    expect(medianMs([6000, undefined, 7000])).toBe(7000);
    expect(maxMs([6000, undefined, 7000])).toBe(Infinity);
    expect(medianMs([])).toBeNaN();
    expect(maxMs([])).toBeNaN();
  });
});

describe('evaluateGossipGoals', () => {
  it('passes Meshlet when it is no slower, no costlier and never falsely kills', () => {
    const runs = [run('meshlet', 10, result({ joinMs: [300, 250, 400], detectionMs: [5000, 5500, 6000], traffic: { bytesPerSecondPerMember: 300, tcpShare: 0, maxMemberBytesPerSecond: 600 } })), run('serf', 10, result())];
    expect(statuses(runs)).toEqual({
      'n=10 detection median <= Serf': 'PASS',
      'n=10 join median <= Serf': 'PASS',
      'n=10 no false death under stress': 'PASS',
      'n=10 bytes/s per member <= Serf': 'PASS',
    });
  });

  it('misses each goal Meshlet falls short of, a join that never converged included, and says by how much', () => {
    const runs = [run('meshlet', 10, result({ joinMs: [undefined, undefined, 300], detectionMs: [8000, 9000, 9500], stress: { seconds: 60, suspicions: 30, deaths: 2, recovered: true }, traffic: { bytesPerSecondPerMember: 450, tcpShare: 0, maxMemberBytesPerSecond: 900 } })), run('serf', 10, result())];
    const goals = evaluateGossipGoals(runs, [10]);
    expect(goals.map((g) => g.status)).toEqual(['MISS', 'MISS', 'MISS', 'MISS']);
    expect(goals.map((g) => g.detail)).toEqual([
      'meshlet 9.00 s vs serf 6.50 s',
      'meshlet never vs serf 0.40 s',
      'meshlet 2 (serf 0) in 60 s',
      'meshlet 450 B/s vs serf 300 B/s (1.50x)',
    ]);
  });

  it('skips a comparison where one side failed, but still judges Meshlet\'s own deaths', () => {
    const runs = [run('meshlet', 10, result()), run('serf', 10, undefined, 'gossip addresses in use')];
    expect(statuses(runs)).toEqual({
      'n=10 detection median <= Serf': 'SKIP',
      'n=10 join median <= Serf': 'SKIP',
      'n=10 no false death under stress': 'PASS',
      'n=10 bytes/s per member <= Serf': 'SKIP',
    });
    expect(statuses([run('serf', 10, result())])['n=10 no false death under stress']).toBe('SKIP');
  });
});

describe('renderGossip', () => {
  it('writes one line per size and system, a failed one with why, and the goals', () => {
    const runs = [run('meshlet', 10, result()), run('serf', 10, result({ joinMs: [200, undefined, 300], detectionMs: [6000, undefined], firstSuspicionMs: [undefined, undefined] })), run('meshlet', 25, undefined, 'the first 22 members did not all list each other alive within 60 s')];
    const text = renderGossip(runs, OPTIONS, { serf: 'serf 0.9.4~ds1-1+b13 (0.8.2-dev)', stressNg: 'stress-ng, version 0.15.06', node: 'v20.20.2', commit: 'abc1234', loadAverage: 0.5, loadAverageAtEnd: 3.25 }, evaluateGossipGoals(runs, [10]));
    const lines = text.split('\n');
    expect(lines).toContain('| 10 | meshlet | 400 | 500 | 6.50 | 7.00 | 1.65 | 3 | 4 | 0 | yes | 300 | 25 | 700 | 13.0 / 14.0 | 2.5 |');
    expect(lines).toContain('| 10 | serf | 300 | never | never | never | — | 2 | 4 | 0 | yes | 300 | 25 | 700 | 13.0 / 14.0 | 2.5 |');
    expect(lines).toContain('| 25 | meshlet | failed: the first 22 members did not all list each other alive within 60 s ||||||||||||||');
    expect(lines).toContain('- MISS n=10 join median <= Serf: meshlet 0.40 s vs serf 0.30 s');
    expect(lines.filter((l) => l.startsWith('- meshlet n=') || l.startsWith('- serf n='))).toEqual([]);
    expect(text).toContain('serf 0.9.4~ds1-1+b13');
    expect(text).toContain('`stress-ng --cpu 2` for 60 s');
    expect(text).toContain('load average when the suite started: 0.50, when it ended: 3.25');
  });

  it('lists the notes of a run under the table', () => {
    const runs = [run('serf', 10, result({ notes: ['after the stress, the agents\' own listings disagreed with what they were seen to see: s2 lists s3 dead'] }))];
    const text = renderGossip(runs, OPTIONS, { serf: 'serf', stressNg: 'stress-ng', node: 'v20', commit: 'abc', loadAverage: 0 }, []);
    expect(text.split('\n')).toContain("- serf n=10: after the stress, the agents' own listings disagreed with what they were seen to see: s2 lists s3 dead");
  });
});
