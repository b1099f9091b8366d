import { describe, expect, it } from 'vitest';
import { parseWrkOutput } from '../../../bench/lib/wrk-output.ts';
import { fixture } from './read-fixture.ts';

describe('parseWrkOutput', () => {
  it('reads requests, duration and latency percentiles of a 50-connection run', () => {
    expect(parseWrkOutput(fixture('wrk-c50.txt'))).toEqual({
      requests: 35220,
      durationS: 2,
      non2xx3xx: 0,
      socketErrors: 0,
      latencyMs: { p50: 2.58, p75: 2.93, p90: 4.35, p99: 91.18 },
    });
  });

  it('turns microsecond latencies into milliseconds', () => {
    const result = parseWrkOutput(fixture('wrk-c1.txt'));
    expect(result.latencyMs.p50).toBeCloseTo(0.054, 6);
    expect(result.latencyMs.p90).toBeCloseTo(0.132, 6);
    expect(result.latencyMs.p99).toBeCloseTo(2.77, 6);
    expect(result.durationS).toBeCloseTo(2.1, 6);
    expect(result.requests).toBe(32028);
  });

  it('counts non-2xx responses', () => {
    const result = parseWrkOutput(fixture('wrk-non2xx.txt'));
    expect(result.requests).toBe(15615);
    expect(result.non2xx3xx).toBe(15615);
  });

  it('adds up socket errors of every kind', () => {
    expect(parseWrkOutput(fixture('wrk-socket-errors.txt')).socketErrors).toBe(1870);
  });

  it('refuses output without the latency distribution', () => {
    const withoutLatency = fixture('wrk-c50.txt').replace(/ {5}99%.*\n/, '');
    expect(() => parseWrkOutput(withoutLatency)).toThrow(/99% latency/);
  });

  it('refuses output that is not from wrk', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/requests in/);
  });
});
