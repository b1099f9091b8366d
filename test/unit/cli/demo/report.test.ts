import { describe, expect, it } from 'vitest';
import { formatDemoReport, percentile, type DemoReport } from '../../../../src/cli/demo/report.ts';

describe('percentile', () => {
  it.each([
    { values: [5], p: 50, expected: 5 },
    { values: [5], p: 99, expected: 5 },
    { values: [4, 1, 3, 2], p: 50, expected: 2 },
    { values: [4, 1, 3, 2], p: 99, expected: 4 },
    { values: Array.from({ length: 100 }, (_, i) => i + 1), p: 99, expected: 99 },
    { values: Array.from({ length: 100 }, (_, i) => i + 1), p: 0, expected: 1 },
  ])('p$p of $values.length values is $expected', ({ values, p, expected }) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it('is NaN when nothing was measured', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

const report: DemoReport = {
  upstreams: [
    { name: 'catalog', via: 'weighted_round_robin', calls: 300, failures: 0, latenciesMs: [1, 2, 3] },
    { name: 'payments', via: 'peak_ewma, gRPC', calls: 100, failures: 0, latenciesMs: [] },
  ],
  instances: [
    { id: 'catalog-1', upstream: 'catalog', weight: 1, received: 75 },
    { id: 'catalog-2', upstream: 'catalog', weight: 1, received: 75 },
    { id: 'catalog-3', upstream: 'catalog', weight: 2, received: 150 },
    { id: 'payments-1', upstream: 'payments', weight: 1, received: 100 },
  ],
  admin: '127.0.0.1:9901',
  failures: [],
};

describe('formatDemoReport', () => {
  it('shows each instance with its share of its upstream, beside its weight share', () => {
    const text = formatDemoReport(report);
    expect(text).toMatch(/catalog-1\s+catalog\s+1 \(25%\)\s+75 \(25%\)/);
    expect(text).toMatch(/catalog-3\s+catalog\s+2 \(50%\)\s+150 \(50%\)/);
    expect(text).toMatch(/payments-1\s+payments\s+1 \(100%\)\s+100 \(100%\)/);
  });

  it('shows latency percentiles, and a dash where nothing was measured', () => {
    const text = formatDemoReport(report);
    expect(text).toMatch(/catalog\s+weighted_round_robin\s+300\s+0\s+2\.0 ms\s+3\.0 ms/);
    expect(text).toMatch(/payments\s+peak_ewma, gRPC\s+100\s+0\s+-\s+-/);
  });

  it('links the admin API and says whether every call succeeded', () => {
    expect(formatDemoReport(report)).toContain('http://127.0.0.1:9901');
    expect(formatDemoReport(report)).toContain('Every call succeeded.');
    const failed = formatDemoReport({ ...report, failures: ['catalog: 3 of 300 failed; first: HTTP 503'] });
    expect(failed).toContain('catalog: 3 of 300 failed; first: HTTP 503');
    expect(failed).not.toContain('Every call succeeded.');
  });
});
