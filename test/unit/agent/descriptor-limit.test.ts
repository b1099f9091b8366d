import { describe, expect, it } from 'vitest';
import { openFilesSoftLimit } from '../../../src/agent/descriptor-limit.ts';
import { clientConnectionBudget } from '../../../src/proxy/listen/connection-budget.ts';

const limits = (openFiles: string): string =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax processes             95000                95000                processes\nMax open files            ${openFiles}                 processes\n`;

describe('the descriptor limit', () => {
  it('is the soft limit on open files from /proc/self/limits', () => {
    expect(openFilesSoftLimit(() => limits('1024                 524288               files'))).toBe(1024);
  });

  it('is unbounded when unlimited or unreadable', () => {
    expect(openFilesSoftLimit(() => limits('unlimited            unlimited            files'))).toBe(Infinity);
    expect(
      openFilesSoftLimit(() => {
        throw new Error('ENOENT');
      }),
    ).toBe(Infinity);
  });

  it('leaves 64 descriptors aside and gives half of the rest to client connections', () => {
    expect(clientConnectionBudget(1024)).toBe(480);
    expect(clientConnectionBudget(20_000)).toBe(9968);
    expect(clientConnectionBudget(100)).toBe(18);
    expect(clientConnectionBudget(10)).toBe(1);
    expect(clientConnectionBudget(Infinity)).toBe(Infinity);
  });
});
