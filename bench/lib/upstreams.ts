import { LOAD_CPU } from './cpus.ts';
import { startTsHelper } from './node-process.ts';
import { freePorts } from './ports.ts';
import type { ProcessGroup } from './processes.ts';
import { waitForPort } from './readiness.ts';
import type { UpstreamPorts } from '../rows/row.ts';

/** Starts the HTTP/1.1, h2c and gRPC upstreams on CPU 0 and waits until each listens. */
export async function startUpstreams(group: ProcessGroup): Promise<UpstreamPorts> {
  const [h1, h2c, grpc] = (await freePorts(3)) as [number, number, number];
  const ports = { h1, h2c, grpc };
  const files = { h1: 'bench/upstreams/http1.ts', h2c: 'bench/upstreams/h2c.ts', grpc: 'bench/upstreams/grpc-echo.ts' };
  for (const protocol of ['h1', 'h2c', 'grpc'] as const) {
    const upstream = startTsHelper(group, `upstream ${protocol}`, LOAD_CPU, files[protocol], ['--listen', String(ports[protocol])]);
    await waitForPort(upstream, ports[protocol]);
  }
  return ports;
}
