import { describe, expect, it } from 'vitest';
import { parseH2loadLog, parseH2loadSummary } from '../../../bench/lib/h2load-output.ts';
import { fixture } from './read-fixture.ts';

describe('parseH2loadSummary', () => {
  it('reads the request counts and duration of an h2c run', () => {
    expect(parseH2loadSummary(fixture('h2load-h2c.txt'))).toEqual({
      durationS: 2,
      total: 28120,
      started: 28220,
      done: 28120,
      succeeded: 28120,
      failed: 0,
      errored: 0,
      timeout: 0,
      status: { s2xx: 28120, s3xx: 0, s4xx: 0, s5xx: 0 },
    });
  });

  it('keeps 2xx headers seen and streams completed apart (gRPC run cut off at the deadline)', () => {
    const summary = parseH2loadSummary(fixture('h2load-grpc.txt'));
    expect(summary.succeeded).toBe(14630);
    expect(summary.status.s2xx).toBe(14720);
  });

  it('reads a run that could not connect as zero requests', () => {
    const summary = parseH2loadSummary(fixture('h2load-refused.txt'));
    expect(summary.total).toBe(0);
    expect(summary.succeeded).toBe(0);
  });

  it('refuses output without a summary', () => {
    expect(() => parseH2loadSummary('starting benchmark...\n')).toThrow(/no summary/);
  });
});

describe('parseH2loadLog', () => {
  it('takes nearest-rank p50 and p99 of the response times, in milliseconds', () => {
    expect(parseH2loadLog(fixture('h2load-log.tsv'))).toEqual({ responses2xx: 20, p50Ms: 29.095, p99Ms: 42.498 });
  });

  it('leaves failed and non-2xx requests out of the latency', () => {
    const log = ['1\t200\t1000', '2\t503\t900000', '3\t-1\t5', '4\t200\t3000', ''].join('\n');
    expect(parseH2loadLog(log)).toEqual({ responses2xx: 2, p50Ms: 1, p99Ms: 3 });
  });

  it('gives NaN latencies for an empty log', () => {
    const latency = parseH2loadLog('');
    expect(latency.responses2xx).toBe(0);
    expect(latency.p50Ms).toBeNaN();
  });
});
