import { describe, expect, it } from 'vitest';
import { SCENARIOS, ROW_NAMES, type RowName } from '../../../bench/lib/scenarios.ts';
import type { CellSummary, Summary } from '../../../bench/lib/summary.ts';
import { renderReport, type ReportInput } from '../../../bench/lib/table.ts';

function cell(requestsPerSecond: number, p50Ms: number, cpuUsPerRequest = NaN, idleRssKiB = NaN): CellSummary {
  return { rounds: 1, requestsPerSecond, p50Ms, p99Ms: p50Ms * 2, errors: 0, cpuUsPerRequest, rssKiB: idleRssKiB, idleRssKiB };
}

function input(rows: Partial<Record<RowName, CellSummary>>, unavailable: string[] = []): ReportInput {
  const summary: Summary = new Map([['h1-c50', new Map(Object.entries(rows) as Array<[RowName, CellSummary]>)]]);
  return {
    startedAt: new Date('2025-01-02T03:04:05Z'),
    machine: { cpuModel: 'Test CPU', cores: 2, kernel: '6.1', node: 'v20.0.0', node24: 'v24.1.0', haproxy: 'HAProxy 2.6', wrk: 'wrk 4.1', h2load: 'h2load 1.52', loadAverage: 0.1 },
    rounds: 3, durationS: 8, warmupS: 2,
    scenarios: SCENARIOS.filter((s) => s.id === 'h1-c50'),
    rows: ROW_NAMES,
    summary,
    unavailable,
    targets: [{ status: 'SKIP', target: 'meshlet idle RSS < 80 MiB', detail: 'not measured' }],
  };
}

/** One measured run of h1-c50 with every row but meshlet-node24. */
const measured: Partial<Record<RowName, CellSummary>> = {
  direct: cell(10_000, 2),
  'bare-node': cell(6_000, 3, 100, 90 * 1024),
  haproxy: cell(9_000, 2.5, 30, 15 * 1024),
  meshlet: cell(5_400, 3.5, 120, 70 * 1024),
};

describe('renderReport', () => {
  it('shows each row with its added p50, CPU and RSS, and meshlet ÷ the others', () => {
    const report = renderReport(input(measured));
    expect(report).toContain('| bare-node | 6000 | 3.00 | 6.00 | 1.00 | 100.0 | 90.0 | 90.0 | 0 |');
    expect(report).toContain('| meshlet | 5400 | 3.50 | 7.00 | 1.50 | 120.0 | 70.0 | 70.0 | 0 |');
    expect(report).toContain('| h1-c50 | meshlet | 0.54x | 0.90x | 0.60x | 1.50x | 3.00x | 1.20x | 4.00x |');
    expect(report).toContain('- SKIP meshlet idle RSS < 80 MiB: not measured');
  });

  it('puts meshlet on both runtimes side by side, in the tables and the README summary', () => {
    const report = renderReport(input({ ...measured, 'meshlet-node24': cell(6_600, 3, 60, 78 * 1024) }));
    expect(report).toContain('| meshlet-node24 | 6600 | 3.00 | 6.00 | 1.00 | 60.0 | 78.0 | 78.0 | 0 |');
    expect(report).toContain('| h1-c50 | meshlet-node24 | 0.66x | 1.10x | 0.73x | 1.00x | 2.00x | 0.60x | 2.00x |');
    expect(report).toContain('| HTTP/1.1, 50 connections (wrk -t1 -c50) | Node 20.0.0 | 10000 | 6000 (bare-node) | 9000 | 5400 | 3.50 / 7.00 | 120 | 70.0 / 70.0 |');
    expect(report).toContain('| HTTP/1.1, 50 connections (wrk -t1 -c50) | Node 24.1.0 | 10000 | 6000 (bare-node) | 9000 | 6600 | 3.00 / 6.00 | 60 | 78.0 / 78.0 |');
    expect(report).toContain('meshlet-node24: Node v24.1.0');
  });

  it('marks a row that could not run as unavailable and says why in the header', () => {
    const report = renderReport(input({ direct: cell(10_000, 2) }, ['meshlet: unavailable (exited before ready)']));
    expect(report).toContain('- meshlet: unavailable (exited before ready)');
    expect(report).toContain('| meshlet | — | — | — | — | — | — | — | unavailable |');
    expect(report).toContain('| h1-c50 | meshlet | — | — | — | — | — | — | — |');
  });

  it('gives no ratio against an added p50 at or below zero', () => {
    const report = renderReport(input({ direct: cell(10_000, 2), haproxy: cell(10_500, 1.8), meshlet: cell(5_000, 3) }));
    expect(report).toContain('| h1-c50 | meshlet | 0.50x | — | 0.48x | — | — | — | — |');
  });

  describe('with --against', () => {
    const baseline = { ref: 'HEAD~1', commit: 'a293dcbe50e6781ec8762d4e8763dd6d86cbfbbd', shortCommit: 'a293dcb', subject: 'Faster h2 path', v8Flags: ['--max-semi-space-size=8'] };
    const withBase = (rows: Partial<Record<RowName, CellSummary>>): ReportInput => ({ ...input(rows), baseline });

    it('names the baseline commit and shows its row as meshlet@<short sha> in every table', () => {
      const report = renderReport(withBase({ ...measured, 'meshlet-base': cell(6_000, 3, 100, 68 * 1024) }));
      expect(report).toContain('- meshlet@a293dcb (row meshlet-base): `--against HEAD~1` = a293dcbe50e6781ec8762d4e8763dd6d86cbfbbd "Faster h2 path"');
      expect(report).toContain("with that commit's V8 flags: `--max-semi-space-size=8`");
      expect(report).toContain('| meshlet@a293dcb | 6000 | 3.00 | 6.00 | 1.00 | 100.0 | 68.0 | 68.0 | 0 |');
      expect(report).toContain('| h1-c50 | meshlet@a293dcb | 0.60x | 1.00x | 0.67x | 1.00x | 2.00x | 1.00x | 3.33x |');
      expect(report).toContain('| HTTP/1.1, 50 connections (wrk -t1 -c50) | Node 20.0.0, meshlet@a293dcb | 10000 | 6000 (bare-node) | 9000 | 6000 | 3.00 / 6.00 | 100 | 68.0 / 68.0 |');
      expect(report).not.toContain('| meshlet-base |');
      const withoutBaseline = renderReport(input(measured));
      expect(withoutBaseline).not.toContain('meshlet@');
      expect(withoutBaseline).not.toContain('÷ base');
    });

    it('adds one line per scenario: meshlet ÷ the baseline for req/s, p50, p99 and CPU/req', () => {
      const report = renderReport(withBase({ ...measured, 'meshlet-base': cell(6_000, 2.8, 96) }));
      expect(report).toContain('## meshlet ÷ meshlet@a293dcb');
      expect(report).toContain('| scenario | req/s ÷ base | p50 ÷ base | p99 ÷ base | CPU/req ÷ base |');
      expect(report).toContain('| h1-c50 | 0.90x | 1.25x | 1.25x | 1.25x |');
      expect(report.indexOf('## meshlet ÷ the others')).toBeLessThan(report.indexOf('## meshlet ÷ meshlet@a293dcb'));
      expect(report.indexOf('## meshlet ÷ meshlet@a293dcb')).toBeLessThan(report.indexOf('## Summary for the README'));
    });

    it('gives dashes on the baseline line when either side was not measured', () => {
      const report = renderReport(withBase(measured));
      expect(report).toContain('| meshlet@a293dcb | — | — | — | — | — | — | — | unavailable |');
      expect(report).toContain('| h1-c50 | — | — | — | — |');
    });

    it('shortens a long commit subject in the header', () => {
      const report = renderReport({ ...input(measured), baseline: { ...baseline, subject: 'x'.repeat(300) } });
      expect(report).toContain(`= ${baseline.commit} "${'x'.repeat(99)}…", its own`);
    });
  });
});
