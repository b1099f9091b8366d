import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_CPU } from '../lib/cpus.ts';
import { freePorts } from '../lib/ports.ts';
import type { ProcessGroup } from '../lib/processes.ts';
import { waitForPort } from '../lib/readiness.ts';
import type { Protocol } from '../lib/scenarios.ts';
import { newRow, skipAll, type Row, type UpstreamPorts } from './row.ts';

const PROTOCOLS: readonly Protocol[] = ['h1', 'h2c', 'grpc'];

/** What every HAProxy the bench starts shares: one thread, HTTP mode, keep-alive, no logs; the defaults section stays open. */
export function haproxyPreamble(timeouts: { readonly connect: string; readonly client: string; readonly server: string }): string[] {
  return [
    'global',
    '  nbthread 1',
    '  maxconn 4000',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    `  timeout connect ${timeouts.connect}`,
    `  timeout client ${timeouts.client}`,
    `  timeout server ${timeouts.server}`,
  ];
}

/** The HAProxy equivalent of meshlet's three upstreams: HTTP mode, keep-alive, h2 both sides for h2c and gRPC, one thread, no logs. */
export function haproxyConfig(listen: UpstreamPorts, upstreams: UpstreamPorts): string {
  const section = (protocol: Protocol): string => {
    const h2 = protocol === 'h1' ? '' : ' proto h2';
    return [
      `frontend fe_${protocol}`,
      `  bind 127.0.0.1:${listen[protocol]}${h2}`,
      `  default_backend be_${protocol}`,
      `backend be_${protocol}`,
      `  server s1 127.0.0.1:${upstreams[protocol]}${h2}`,
    ].join('\n');
  };
  return [
    ...haproxyPreamble({ connect: '5s', client: '60s', server: '60s' }),
    '  http-reuse always',
    ...PROTOCOLS.map(section),
    '',
  ].join('\n');
}

export async function haproxyRow(group: ProcessGroup, upstreams: UpstreamPorts, tmpDir: string): Promise<Row> {
  const row = newRow('haproxy');
  const [h1, h2c, grpc] = (await freePorts(3)) as [number, number, number];
  const listen = { h1, h2c, grpc };
  const configFile = join(tmpDir, 'haproxy.cfg');
  writeFileSync(configFile, haproxyConfig(listen, upstreams));
  const haproxy = group.start('haproxy', PROXY_CPU, 'haproxy', ['-db', '-f', configFile]);
  try {
    for (const protocol of PROTOCOLS) await waitForPort(haproxy, listen[protocol]);
  } catch (error) {
    haproxy.terminate();
    return skipAll(row, PROTOCOLS, (error as Error).message);
  }
  for (const protocol of PROTOCOLS) row.targets.set(protocol, { port: listen[protocol], process: haproxy });
  return row;
}
