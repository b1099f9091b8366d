// The Serf side: `serf agent` per member with the LAN profile (memberlist's DefaultLANConfig,
// the timings Meshlet's defaults copy), encrypted as Meshlet always is, its log read line by
// line for membership changes, its suspicion and death counts sent to a statsd listener per agent.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_CPU, LOAD_CPU } from '../lib/cpus.ts';
import { freePorts } from '../lib/ports.ts';
import { waitForPort } from '../lib/readiness.ts';
import { gossipAddress, SEED_INDEX, wallClockMs, type ClusterDriver, type GossipAgent, type MemberStatus, type DriverContext } from './cluster.ts';
import { parseSerfLogLine } from './serf-log.ts';
import { listenStatsd, type StatsdCounter } from './statsd.ts';

const MEMBERS_TIMEOUT_MS = 10_000;
const SERF_STATUS: Readonly<Record<string, MemberStatus>> = { alive: 'alive', failed: 'dead', left: 'left', leaving: 'left' };

/** `serf members -format=json` as a map of member to status, the agent itself left out. */
export function parseSerfMembers(json: string, self: string): Map<string, MemberStatus> {
  const parsed = JSON.parse(json) as { members?: { name?: unknown; status?: unknown }[] };
  const members = new Map<string, MemberStatus>();
  for (const member of parsed.members ?? []) {
    if (typeof member.name !== 'string' || member.name === self) continue;
    const status = SERF_STATUS[String(member.status)];
    if (status) members.set(member.name, status);
  }
  return members;
}

/** The agent's command line: LAN profile, the shared key, statsd from the config file, the seed to join. */
export function serfAgentArgs(node: string, index: number, rpcPort: number, key: string, configFile: string): string[] {
  return [
    'agent',
    `-node=${node}`,
    `-bind=${gossipAddress(index)}`,
    `-rpc-addr=127.0.0.1:${rpcPort}`,
    '-profile=lan',
    `-encrypt=${key}`,
    `-config-file=${configFile}`,
    '-log-level=info',
    ...(index === SEED_INDEX ? [] : [`-join=${gossipAddress(SEED_INDEX)}`]),
  ];
}

export class SerfDriver implements ClusterDriver {
  readonly system = 'serf';
  private readonly statsd: StatsdCounter[] = [];

  constructor(private readonly context: DriverContext) {}

  nodeName(index: number): string {
    return `s${index}`;
  }

  async start(index: number): Promise<GossipAgent> {
    const node = this.nodeName(index);
    const [rpcPort] = (await freePorts(1)) as [number];
    const statsd = await listenStatsd();
    this.statsd.push(statsd);
    const configFile = join(this.context.tmpDir, `serf-${node}.json`);
    writeFileSync(configFile, JSON.stringify({ statsd_addr: statsd.address }));
    const child = this.context.group.start(node, PROXY_CPU, 'serf', serfAgentArgs(node, index, rpcPort, this.context.key, configFile), (line) => {
      const event = parseSerfLogLine(line);
      if (!event) return;
      const observation = { observer: node, member: event.member, status: event.status, at: wallClockMs() };
      if (event.status === 'suspect') this.context.onSuspicion(observation);
      else this.context.onObservation(observation);
    });
    await waitForPort(child, rpcPort);
    const group = this.context.group;
    return {
      index,
      node,
      process: child,
      async members() {
        const result = await group.run(LOAD_CPU, 'serf', ['members', `-rpc-addr=127.0.0.1:${rpcPort}`, '-format=json'], MEMBERS_TIMEOUT_MS);
        if (result.code !== 0) throw new Error(`serf members on ${node}: ${result.timedOut ? 'timed out' : result.stderr.trim()}`);
        return parseSerfMembers(result.stdout, node);
      },
      changeCounts: () => Promise.resolve(statsd.counts()),
    };
  }

  lastProblem(): string | undefined {
    return undefined;
  }

  /** Serf logs its changes as they happen: nothing to ask. */
  refresh(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    for (const statsd of this.statsd.splice(0)) statsd.close();
  }
}
