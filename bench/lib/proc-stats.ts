import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

// CPU time and memory of a process from /proc, so a proxy's cost is measured from outside it.

/** utime + stime in clock ticks from the text of /proc/PID/stat. */
export function parseProcStatCpuTicks(stat: string): number {
  // comm (field 2) is in parentheses and may hold spaces; fields after it are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc stat: ${stat}`);
  return utime + stime;
}

/** VmRSS in KiB from the text of /proc/PID/status. */
export function parseProcStatusRssKiB(status: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error('no VmRSS in /proc status');
  return Number(match[1]);
}

export function readCpuTicks(pid: number): number {
  return parseProcStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

export function readRssKiB(pid: number): number {
  return parseProcStatusRssKiB(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

export function clockTicksPerSecond(): number {
  return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
}
