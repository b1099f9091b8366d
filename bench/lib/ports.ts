import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

// Ports come from below the kernel's ephemeral range. A port from listen(0) is an ephemeral one,
// which the kernel may hand out again, between this check and the listen of the process it is
// meant for, as the source port of an outgoing connection: an agent connecting to its upstreams
// at start, or a readiness probe's connect to a port nobody listens on yet (a loopback
// self-connect). Either way that process fails with EADDRINUSE.
const LOWEST_PORT = 10_000;
const ATTEMPTS_PER_PORT = 50;

function ephemeralRangeStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}

const RANGE_END = Math.max(ephemeralRangeStart(), LOWEST_PORT + 1_000);

function listen(server: Server, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
}

/** `count` distinct free ports on 127.0.0.1 below the ephemeral range, all held open until every one is picked. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    for (let attempt = 0; ports.length < count; attempt += 1) {
      if (attempt >= count * ATTEMPTS_PER_PORT) throw new Error(`no ${count} free ports between ${LOWEST_PORT} and ${RANGE_END}`);
      const port = LOWEST_PORT + Math.floor(Math.random() * (RANGE_END - LOWEST_PORT));
      const server = createServer();
      if (!(await listen(server, port))) continue;
      servers.push(server);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
