// The process's soft limit on open files (RLIMIT_NOFILE), which every client and upstream
// connection counts against. Node has no API for it; Linux shows it in /proc/self/limits.

import { readFileSync } from 'node:fs';

const OPEN_FILES = /^Max open files\s+(\d+|unlimited)\s/m;

/** Infinity when the limit is unknown (no /proc) or unlimited. */
export function openFilesSoftLimit(limitsText: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number {
  let text: string;
  try {
    text = limitsText();
  } catch {
    return Infinity;
  }
  const value = OPEN_FILES.exec(text)?.[1];
  return value === undefined || value === 'unlimited' ? Infinity : Number(value);
}
