import { describe, expect, it } from 'vitest';
import type { MeshletRowName, RowName, ScenarioId } from '../../../bench/lib/scenarios.ts';
import type { CellSummary, Summary } from '../../../bench/lib/summary.ts';
import { evaluatePolicyCost, evaluateTargets } from '../../../bench/lib/targets.ts';

function cell(requestsPerSecond: number, p50Ms: number, p99Ms: number, idleRssKiB = NaN, rssKiB = 60_000): CellSummary {
  return { rounds: 3, requestsPerSecond, p50Ms, p99Ms, errors: 0, cpuUsPerRequest: 50, rssKiB, idleRssKiB };
}

function summaryOf(cells: Partial<Record<ScenarioId, Partial<Record<RowName, CellSummary>>>>): Summary {
  return new Map(Object.entries(cells).map(([scenario, rows]) => [scenario as ScenarioId, new Map(Object.entries(rows) as Array<[RowName, CellSummary]>)]));
}

const statusOf = (summary: Summary, row: MeshletRowName = 'meshlet'): Record<string, string> =>
  Object.fromEntries(evaluateTargets(summary, row).map((check) => [check.target, check.status]));

describe('evaluateTargets', () => {
  it('passes a meshlet that meets every target', () => {
    const summary = summaryOf({
      'h1-c50': { 'bare-node': cell(10_000, 5, 9), meshlet: cell(9_500, 5, 9, 60 * 1024) },
      'h1-c1': { direct: cell(15_000, 0.05, 1), 'bare-node': cell(3_000, 0.25, 2), meshlet: cell(2_900, 0.27, 2) },
      'h2c-10x10': { 'naive-h2': cell(3_000, 30, 60), meshlet: cell(3_500, 20, 35) },
      'grpc-10x10': { 'naive-h2': cell(1_500, 60, 100), meshlet: cell(1_600, 50, 90) },
    });
    expect(Object.values(statusOf(summary))).toEqual(Array(8).fill('PASS'));
  });

  it('misses where meshlet falls short, and says by how much', () => {
    const summary = summaryOf({
      'h1-c50': { 'bare-node': cell(10_000, 5, 9), meshlet: cell(8_000, 5, 9, 90 * 1024) },
      'h1-c1': { direct: cell(15_000, 0.05, 1), 'bare-node': cell(3_000, 0.25, 2), meshlet: cell(2_000, 0.5, 2) },
      'h2c-10x10': { 'naive-h2': cell(3_000, 30, 60), meshlet: cell(2_000, 20, 50, NaN, 140 * 1024) },
    });
    const checks = evaluateTargets(summary);
    expect(statusOf(summary)).toEqual({
      'meshlet h1 50-conn req/s >= 0.9x bare-node': 'MISS',
      'meshlet h1 1-conn added p50 <= 1.1x bare-node added p50': 'MISS',
      'meshlet h2c-10x10 req/s >= naive-h2': 'MISS',
      'meshlet h2c-10x10 p99 <= 2x its p50': 'MISS',
      'meshlet grpc-10x10 req/s >= naive-h2': 'SKIP',
      'meshlet grpc-10x10 p99 <= 2x its p50': 'SKIP',
      'meshlet idle RSS < 80 MiB': 'MISS',
      'meshlet RSS under load < 128 MiB': 'MISS',
    });
    expect(checks[0]?.detail).toBe('meshlet 8000 vs bare-node 10000 (0.80x)');
    expect(checks[6]?.detail).toBe('90.0 MiB');
    expect(checks[7]?.detail).toBe('140.0 MiB, the most after any scenario');
  });

  it('holds meshlet-node24 to the same targets, against the same references', () => {
    const summary = summaryOf({
      'h1-c50': { 'bare-node': cell(10_000, 5, 9), meshlet: cell(8_000, 5, 9, 70 * 1024), 'meshlet-node24': cell(9_500, 5, 9, 90 * 1024) },
    });
    expect(statusOf(summary, 'meshlet-node24')).toMatchObject({
      'meshlet-node24 h1 50-conn req/s >= 0.9x bare-node': 'PASS',
      'meshlet-node24 idle RSS < 80 MiB': 'MISS',
    });
    expect(statusOf(summary, 'meshlet')).toMatchObject({ 'meshlet h1 50-conn req/s >= 0.9x bare-node': 'MISS', 'meshlet idle RSS < 80 MiB': 'PASS' });
  });

  it('skips every target when meshlet was not measured', () => {
    const summary = summaryOf({ 'h1-c50': { direct: cell(17_000, 2, 5), 'bare-node': cell(10_000, 5, 9) } });
    expect(new Set(Object.values(statusOf(summary)))).toEqual(new Set(['SKIP']));
  });
});

describe('evaluatePolicyCost', () => {
  it('holds the full policy to 0.9x the default policy on HTTP/1.1 and gRPC, and skips what was not measured', () => {
    const checks = evaluatePolicyCost(summaryOf({
      'h1-c50': { meshlet: cell(10_000, 5, 9), 'meshlet-policy': cell(9_100, 5, 9) },
      'grpc-10x10': { meshlet: cell(2_000, 50, 90), 'meshlet-policy': cell(1_700, 50, 90) },
    }));
    expect(checks.map((c) => [c.status, c.detail])).toEqual([
      ['PASS', 'full policy 9100 vs default 10000 (0.91x)'],
      ['MISS', 'full policy 1700 vs default 2000 (0.85x)'],
    ]);
    expect(evaluatePolicyCost(summaryOf({})).map((c) => c.status)).toEqual(['SKIP', 'SKIP']);
  });
});
