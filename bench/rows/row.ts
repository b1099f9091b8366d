import type { ManagedProcess } from '../lib/processes.ts';
import type { Protocol, RowName } from '../lib/scenarios.ts';

/** Where a row takes one protocol's traffic, and the process whose cost is measured (none for direct). */
export interface RowTarget {
  readonly port: number;
  readonly process?: ManagedProcess;
}

/** One proxy under test (or none, for direct), started once for the whole bench. */
export interface Row {
  readonly name: RowName;
  readonly targets: Map<Protocol, RowTarget>;
  /** Why a protocol this row would serve is not measured (failed to start, probe failed, crashed). */
  readonly skipped: Map<Protocol, string>;
  /** Idle RSS per protocol's process, measured after the probes and before any load. */
  readonly idleRssKiB: Map<Protocol, number>;
}

/** The ports the upstreams listen on, all on 127.0.0.1. */
export type UpstreamPorts = Readonly<Record<Protocol, number>>;

export function newRow(name: RowName): Row {
  return { name, targets: new Map(), skipped: new Map(), idleRssKiB: new Map() };
}

export function skipAll(row: Row, protocols: readonly Protocol[], reason: string): Row {
  for (const protocol of protocols) row.skipped.set(protocol, reason);
  return row;
}
