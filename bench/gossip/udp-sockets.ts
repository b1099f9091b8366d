// Which gossip addresses are taken, and when an agent's gossip socket exists: the kernel's
// table of UDP sockets (/proc/net/udp) lists it as soon as it is bound, whatever the system, so
// a join is timed from the same moment for both.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How /proc/net/udp writes an IPv4 address and port: the address's bytes as a little-endian word, the port big-endian. */
export function procNetAddress(host: string, port: number): string {
  const bytes = host.split('.').map(Number);
  if (bytes.length !== 4 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) throw new Error(`not an IPv4 address: ${host}`);
  const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0');
  return `${bytes.toReversed().map((b) => hex(b, 2)).join('')}:${hex(port, 4)}`;
}

/** The kernel's code for a listening TCP socket in the st column. */
export const TCP_LISTEN = '0A';

/** Whether a socket table of /proc/net (udp, tcp) has a socket bound to host:port, in state `state` if given. */
export function hasLocalSocket(procNetTable: string, host: string, port: number, state?: string): boolean {
  const wanted = procNetAddress(host, port);
  return procNetTable.split('\n').some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1] === wanted && (state === undefined || fields[3] === state);
  });
}

/**
 * The gossip addresses a live socket holds (another test's agents, a run not cleaned up), as
 * "host:port": any UDP socket, a listening TCP one (a connection left in TIME-WAIT by the last
 * cluster does not keep a listener from binding).
 */
export function addressesInUse(hosts: readonly string[], port: number): string[] {
  const udp = readFileSync('/proc/net/udp', 'utf8');
  const tcp = readFileSync('/proc/net/tcp', 'utf8');
  return hosts.filter((host) => hasLocalSocket(udp, host, port) || hasLocalSocket(tcp, host, port, TCP_LISTEN)).map((host) => `${host}:${port}`);
}

const POLL_MS = 5;

/** Resolves with the time (epoch ms) the socket was first seen bound; rejects after `timeoutMs` or once `gaveUp()` says so. */
export async function waitForUdpBound(host: string, port: number, timeoutMs: number, gaveUp: () => string | undefined, now: () => number): Promise<number> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (hasLocalSocket(readFileSync('/proc/net/udp', 'utf8'), host, port)) return now();
    const reason = gaveUp();
    if (reason) throw new Error(reason);
    await sleep(POLL_MS);
  }
  throw new Error(`no UDP socket on ${host}:${port} within ${timeoutMs} ms`);
}
