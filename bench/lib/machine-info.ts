import { readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { isOnPath, versionLine } from './tools.ts';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly kernel: string;
  readonly node: string;
  /** The meshlet-node24 row's Node, or why it has none. */
  readonly node24: string;
  readonly haproxy: string;
  readonly wrk: string;
  readonly h2load: string;
  /** 1-minute load average when the bench started: above ~0.5, something else is competing for the CPUs. */
  readonly loadAverage: number;
}

export function machineInfo(node24: string): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  return {
    cpuModel: model,
    cores: cpus().length,
    kernel: release(),
    node: process.version,
    node24,
    haproxy: isOnPath('haproxy') ? versionLine('haproxy', ['-v']) : 'not installed',
    wrk: versionLine('wrk', ['-v']),
    h2load: versionLine('h2load', ['--version']),
    loadAverage: loadavg()[0] ?? NaN,
  };
}
