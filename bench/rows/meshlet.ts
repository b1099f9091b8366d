import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PROXY_CPU } from '../lib/cpus.ts';
import { freePorts } from '../lib/ports.ts';
import type { ProcessGroup } from '../lib/processes.ts';
import { waitForHttpOk, waitForPort } from '../lib/readiness.ts';
import type { Protocol } from '../lib/scenarios.ts';
import { newRow, skipAll, type Row, type UpstreamPorts } from './row.ts';

const PROTOCOLS: readonly Protocol[] = ['h1', 'h2c', 'grpc'];
const MESHLET_PROTOCOL: Readonly<Record<Protocol, string>> = { h1: 'http', h2c: 'http2', grpc: 'grpc' };

/** A standalone agent (no gossip, no control plane) with one static upstream per protocol and default policy. */
export function meshletConfig(adminPort: number, listen: UpstreamPorts, upstreams: UpstreamPorts): string {
  return stringify({
    node: 'bench',
    admin: { listen: `127.0.0.1:${adminPort}` },
    log: { level: 'warn' },
    upstreams: PROTOCOLS.map((protocol) => ({
      name: `bench-${protocol}`,
      protocol: MESHLET_PROTOCOL[protocol],
      listen: `127.0.0.1:${listen[protocol]}`,
      endpoints: [`127.0.0.1:${upstreams[protocol]}`],
    })),
  });
}

export async function meshletRow(group: ProcessGroup, upstreams: UpstreamPorts, tmpDir: string): Promise<Row> {
  const row = newRow('meshlet');
  const [admin, h1, h2c, grpc] = (await freePorts(4)) as [number, number, number, number];
  const listen = { h1, h2c, grpc };
  const configFile = join(tmpDir, 'meshlet.yaml');
  writeFileSync(configFile, meshletConfig(admin, listen, upstreams));
  const agent = group.start('meshlet', PROXY_CPU, process.execPath, ['bin/meshlet.js', 'agent', '-c', configFile]);
  try {
    await waitForHttpOk(agent, `http://127.0.0.1:${admin}/readyz`);
    for (const protocol of PROTOCOLS) await waitForPort(agent, listen[protocol], 5000);
  } catch (error) {
    agent.terminate();
    return skipAll(row, PROTOCOLS, (error as Error).message);
  }
  for (const protocol of PROTOCOLS) row.targets.set(protocol, { port: listen[protocol], process: agent });
  return row;
}
