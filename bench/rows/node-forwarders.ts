import { PROXY_CPU } from '../lib/cpus.ts';
import { compileForwarder } from '../lib/compile-forwarder.ts';
import { freePorts } from '../lib/ports.ts';
import type { ProcessGroup } from '../lib/processes.ts';
import { waitForPort } from '../lib/readiness.ts';
import type { Protocol } from '../lib/scenarios.ts';
import { newRow, skipAll, type Row, type UpstreamPorts } from './row.ts';

async function startForwarders(row: Row, group: ProcessGroup, file: string, upstreams: UpstreamPorts, protocols: readonly Protocol[]): Promise<Row> {
  const ports = await freePorts(protocols.length);
  const script = compileForwarder(file);
  for (const [i, protocol] of protocols.entries()) {
    const port = ports[i] as number;
    const forwarder = group.start(`${row.name} (${protocol})`, PROXY_CPU, process.execPath, [script, '--listen', String(port), '--upstream', String(upstreams[protocol])]);
    try {
      await waitForPort(forwarder, port);
      row.targets.set(protocol, { port, process: forwarder });
    } catch (error) {
      forwarder.terminate();
      skipAll(row, [protocol], (error as Error).message);
    }
  }
  return row;
}

/** bench/forwarders/bare-undici.ts in front of the HTTP/1.1 upstream. */
export function bareNodeRow(group: ProcessGroup, upstreams: UpstreamPorts): Promise<Row> {
  return startForwarders(newRow('bare-node'), group, 'bench/forwarders/bare-undici.ts', upstreams, ['h1']);
}

/** bench/forwarders/naive-h2.ts, one process in front of each HTTP/2 upstream (h2c and gRPC). */
export function naiveH2Row(group: ProcessGroup, upstreams: UpstreamPorts): Promise<Row> {
  return startForwarders(newRow('naive-h2'), group, 'bench/forwarders/naive-h2.ts', upstreams, ['h2c', 'grpc']);
}
