// grpc-timeout as PROTOCOL-HTTP2.md writes it: read in every unit, ignored when malformed,
// written in whole milliseconds (rounded up, never 0) or seconds past eight digits.
import { describe, expect, it } from 'vitest';
import { formatGrpcTimeout, parseGrpcTimeout } from '../../../src/proxy/call/grpc-timeout.ts';

describe('grpc-timeout', () => {
  it.each<[string, number]>([
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['3S', 3000],
    ['250m', 250],
    ['1500u', 1.5],
    ['2000000n', 2],
    ['99999999m', 99_999_999],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseGrpcTimeout(text)).toBe(ms);
  });

  it.each(['', '10', 'm', '-1S', '1.5S', '123456789m', '10s', '10 S'])('ignores %j', (text) => {
    expect(parseGrpcTimeout(text)).toBeUndefined();
  });

  it('writes what is left in whole milliseconds, rounded up, at least 1, and in seconds past 8 digits', () => {
    expect(formatGrpcTimeout(249.2)).toBe('250m');
    expect(formatGrpcTimeout(0.01)).toBe('1m');
    expect(formatGrpcTimeout(-5)).toBe('1m');
    expect(formatGrpcTimeout(200_000_000)).toBe('200000S');
  });
});
