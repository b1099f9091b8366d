import { describe, expect, it } from 'vitest';
import { parseProcStatCpuTicks, parseProcStatusRssKiB } from '../../../bench/lib/proc-stats.ts';

describe('parseProcStatCpuTicks', () => {
  it('adds utime and stime, even when the command name holds spaces and parentheses', () => {
    const stat = '4242 (node (my) app) S 1 4242 4242 0 -1 4194560 31597 0 0 0 1234 567 0 0 20 0 11 0 1709 1110 27000 18446744073709551615';
    expect(parseProcStatCpuTicks(stat)).toBe(1234 + 567);
  });
});

describe('parseProcStatusRssKiB', () => {
  it('reads VmRSS in KiB', () => {
    expect(parseProcStatusRssKiB('Name:\tnode\nVmHWM:\t  120000 kB\nVmRSS:\t  102816 kB\nThreads:\t12\n')).toBe(102816);
  });
});
