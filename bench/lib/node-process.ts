import type { ManagedProcess, ProcessGroup } from './processes.ts';

/** Starts one of the bench's TypeScript helpers (upstream or forwarder) with bin/run-ts.js, pinned to `cpu`. */
export function startTsHelper(group: ProcessGroup, name: string, cpu: number, file: string, args: readonly string[]): ManagedProcess {
  return group.start(name, cpu, process.execPath, ['bin/run-ts.js', file, ...args]);
}
