import type { ProcessGroup } from '../lib/processes.ts';
import { probe } from '../lib/probes.ts';
import { readRssKiB } from '../lib/proc-stats.ts';
import type { MeshletRowName, RowName } from '../lib/scenarios.ts';
import { directRow } from './direct.ts';
import { haproxyRow } from './haproxy.ts';
import { examplePolicies, meshletRow, type AgentLaunch } from './meshlet.ts';
import { bareNodeRow, naiveH2Row } from './node-forwarders.ts';
import type { Row, UpstreamPorts } from './row.ts';

/** How each meshlet row starts its agent. */
export type MeshletAgents = Readonly<Record<MeshletRowName, AgentLaunch>>;

function startRow(name: RowName, group: ProcessGroup, upstreams: UpstreamPorts, tmpDir: string, agents: MeshletAgents): Row | Promise<Row> {
  switch (name) {
    case 'direct': return directRow(upstreams);
    case 'bare-node': return bareNodeRow(group, upstreams);
    case 'naive-h2': return naiveH2Row(group, upstreams);
    case 'haproxy': return haproxyRow(group, upstreams, tmpDir);
    case 'meshlet-policy': return meshletRow(name, agents[name], group, upstreams, tmpDir, examplePolicies());
    case 'meshlet':
    case 'meshlet-base':
    case 'meshlet-node24': return meshletRow(name, agents[name], group, upstreams, tmpDir);
  }
}

/**
 * Starts each row, sends one request per protocol through it, and records each process's
 * idle RSS. A row that fails any step keeps a reason instead of a target for that protocol.
 */
export async function startRows(names: readonly RowName[], group: ProcessGroup, upstreams: UpstreamPorts, tmpDir: string, agents: MeshletAgents): Promise<Row[]> {
  const rows: Row[] = [];
  for (const name of names) {
    const row = await startRow(name, group, upstreams, tmpDir, agents);
    for (const [protocol, target] of row.targets) {
      try {
        await probe(protocol, target.port);
      } catch (error) {
        row.targets.delete(protocol);
        row.skipped.set(protocol, `${protocol} probe failed: ${(error as Error).message}`);
      }
    }
    rows.push(row);
  }
  for (const row of rows) {
    for (const [protocol, target] of row.targets) {
      if (target.process) row.idleRssKiB.set(protocol, readRssKiB(target.process.pid));
    }
  }
  return rows;
}

/** "meshlet: unavailable (why)" for a row with nothing to measure, or per protocol when only some paths failed. */
export function unavailableLines(rows: readonly Row[]): string[] {
  const lines: string[] = [];
  for (const row of rows) {
    const byReason = new Map<string, string[]>();
    for (const [protocol, reason] of row.skipped) byReason.set(reason, [...(byReason.get(reason) ?? []), protocol]);
    for (const [reason, protocols] of byReason) {
      lines.push(row.targets.size === 0 && byReason.size === 1
        ? `${row.name}: unavailable (${reason})`
        : `${row.name}: unavailable for ${protocols.join(', ')} (${reason})`);
    }
  }
  return lines;
}
