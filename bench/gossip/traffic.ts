// Gossip bytes on the wire, counted by the kernel: an iptables chain of counting rules (no
// target, so every packet goes on as before) hooked into OUTPUT, which sees each loopback packet
// once. Per member: UDP it sends from its gossip port, UDP to that port, and both directions of
// TCP connections to that port. Members dial TCP from 127.0.0.1 and an ephemeral port (memberlist
// does not bind its dials), so TCP is counted at the listening side; each byte counts once.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessGroup } from '../lib/processes.ts';
import { LOAD_CPU } from '../lib/cpus.ts';
import { GOSSIP_PORT } from './cluster.ts';

export const TRAFFIC_CHAIN = 'MESHLET_GOSSIP_BENCH';
const COUNTERS = ['udp-out', 'udp-in', 'tcp-in', 'tcp-out'] as const;
type Counter = (typeof COUNTERS)[number];
const IPTABLES_TIMEOUT_MS = 10_000;

export interface TrafficMember {
  readonly node: string;
  readonly host: string;
}

/** The `iptables -A` arguments of one member's four counting rules. */
export function memberRules(member: TrafficMember): string[][] {
  const port = String(GOSSIP_PORT);
  const match: Readonly<Record<Counter, string[]>> = {
    'udp-out': ['-s', member.host, '-p', 'udp', '--sport', port],
    'udp-in': ['-d', member.host, '-p', 'udp', '--dport', port],
    'tcp-in': ['-d', member.host, '-p', 'tcp', '--dport', port],
    'tcp-out': ['-s', member.host, '-p', 'tcp', '--sport', port],
  };
  return COUNTERS.map((counter) => ['-A', TRAFFIC_CHAIN, ...match[counter], '-m', 'comment', '--comment', `${member.node} ${counter}`]);
}

/** The iptables-restore input (for --noflush) that creates the chain with every member's rules and hooks it into OUTPUT. */
export function restoreScript(members: readonly TrafficMember[]): string {
  const quoted = (arg: string): string => (/\s/.test(arg) ? `"${arg}"` : arg);
  return [
    '*filter',
    `:${TRAFFIC_CHAIN} - [0:0]`,
    ...members.flatMap((member) => memberRules(member).map((rule) => rule.map(quoted).join(' '))),
    `-I OUTPUT 1 -j ${TRAFFIC_CHAIN}`,
    'COMMIT',
    '',
  ].join('\n');
}

/** Bytes per rule comment from `iptables -L CHAIN -v -x -n`. */
export function parseChainBytes(listing: string): Map<string, number> {
  const bytes = new Map<string, number>();
  for (const line of listing.split('\n')) {
    const match = /^\s*\d+\s+(\d+)\s.*\/\* (.+?) \*\/\s*$/.exec(line);
    if (match) bytes.set(match[2]!, Number(match[1]));
  }
  return bytes;
}

export interface TrafficSummary {
  /** Every gossip byte on the wire (IP headers included) per member and second. */
  readonly bytesPerSecondPerMember: number;
  /** The TCP part of that (push-pull, state too big for a datagram), 0..1. */
  readonly tcpShare: number;
  /** The busiest member: what it sent and received on its own gossip sockets, per second. */
  readonly maxMemberBytesPerSecond: number;
}

/** What the counters gained between two readings, over `seconds`, for `nodes`. */
export function summarizeTraffic(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, nodes: readonly string[], seconds: number): TrafficSummary {
  const gained = (node: string, counter: Counter): number => Math.max(0, (after.get(`${node} ${counter}`) ?? 0) - (before.get(`${node} ${counter}`) ?? 0));
  let udp = 0;
  let tcp = 0;
  let busiest = 0;
  for (const node of nodes) {
    udp += gained(node, 'udp-out');
    tcp += gained(node, 'tcp-in') + gained(node, 'tcp-out');
    busiest = Math.max(busiest, COUNTERS.reduce((sum, counter) => sum + gained(node, counter), 0));
  }
  const total = udp + tcp;
  return {
    bytesPerSecondPerMember: nodes.length === 0 || seconds <= 0 ? NaN : total / nodes.length / seconds,
    tcpShare: total === 0 ? 0 : tcp / total,
    maxMemberBytesPerSecond: seconds <= 0 ? NaN : busiest / seconds,
  };
}

const UNHOOK: readonly string[] = ['-D', 'OUTPUT', '-j', TRAFFIC_CHAIN];
const DROP_CHAIN: readonly (readonly string[])[] = [['-F', TRAFFIC_CHAIN], ['-X', TRAFFIC_CHAIN]];
/** A run killed twice over may have hooked the chain more than once. */
const MAX_HOOKS = 5;

/** For the bench's signal handler, which cannot wait: the same removal, synchronously. */
export function removeTrafficChainNow(): void {
  const iptables = (args: readonly string[]): boolean => spawnSync('iptables', ['-w', '5', ...args], { stdio: 'ignore', timeout: IPTABLES_TIMEOUT_MS }).status === 0;
  for (let i = 0; i < MAX_HOOKS; i++) if (!iptables(UNHOOK)) break;
  for (const args of DROP_CHAIN) iptables(args);
}

/** The chain, installed for one cluster and removed after it (and before, if a killed run left it). */
export class TrafficCounters {
  private constructor(private readonly group: ProcessGroup) {}

  static async install(group: ProcessGroup, tmpDir: string, members: readonly TrafficMember[]): Promise<TrafficCounters> {
    const counters = new TrafficCounters(group);
    await counters.remove();
    const file = join(tmpDir, 'gossip-traffic.rules');
    writeFileSync(file, restoreScript(members));
    const result = await group.run(LOAD_CPU, 'iptables-restore', ['-w', '5', '--noflush', file], IPTABLES_TIMEOUT_MS);
    if (result.code !== 0) throw new Error(`iptables-restore: ${result.timedOut ? 'timed out' : result.stderr.trim() || `exit ${result.code}`}`);
    return counters;
  }

  async read(): Promise<Map<string, number>> {
    return parseChainBytes(await this.iptables(['-L', TRAFFIC_CHAIN, '-v', '-x', '-n']));
  }

  /** Unhooks, flushes and deletes the chain; quiet when it is not there. */
  async remove(): Promise<void> {
    for (let i = 0; i < MAX_HOOKS; i++) if (!(await this.tryIptables(UNHOOK))) break;
    for (const args of DROP_CHAIN) await this.tryIptables(args);
  }

  private async tryIptables(args: readonly string[]): Promise<boolean> {
    const result = await this.group.run(LOAD_CPU, 'iptables', ['-w', '5', ...args], IPTABLES_TIMEOUT_MS);
    return result.code === 0;
  }

  private async iptables(args: readonly string[]): Promise<string> {
    const result = await this.group.run(LOAD_CPU, 'iptables', ['-w', '5', ...args], IPTABLES_TIMEOUT_MS);
    if (result.code !== 0) throw new Error(`iptables ${args.join(' ')}: ${result.timedOut ? 'timed out' : result.stderr.trim() || `exit ${result.code}`}`);
    return result.stdout;
  }
}
