// The Meshlet side: one `bin/meshlet.js agent` process per member (the agent's V8 flags, as the
// other suites start it), each with its own admin listener on 127.0.0.1; changes are found by
// polling GET /api/v1/members, timed by each member's `since` (the agent's spawn time places a
// monotonic `since` on the wall clock: node starts its performance clock as the process starts,
// a few ms after the spawn, so such a change reads those few ms early).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { agentNodeArgs } from '../../src/cli/agent-v8-flags.ts';
import { PROXY_CPU } from '../lib/cpus.ts';
import { freePorts } from '../lib/ports.ts';
import { waitForHttpOk } from '../lib/readiness.ts';
import { gossipAddress, SEED_INDEX, wallClockMs, type ClusterDriver, type GossipAgent, type MemberStatus, type DriverContext } from './cluster.ts';
import { changesFound, parseMemberChanges, parseMeshletMembers, type ListedMember } from './meshlet-api.ts';

const REQUEST_TIMEOUT_MS = 5000;

/** The agent's config: its node name, an admin listener, and gossip on its own loopback address through the seed. */
export function meshletGossipConfig(node: string, index: number, adminPort: number, key: string): string {
  return stringify({
    node,
    admin: { listen: `127.0.0.1:${adminPort}` },
    log: { level: 'warn' },
    gossip: { bind: gossipAddress(index), join: index === SEED_INDEX ? [] : [gossipAddress(SEED_INDEX)], keys: [key] },
  });
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function getText(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${text}`);
  return text;
}

interface Polled {
  readonly admin: string;
  readonly startedAt: number;
  /** When the last poll that got an answer was sent; the agent's start before any did. */
  lastSentAt: number;
  readonly known: Map<string, MemberStatus>;
}

export class MeshletDriver implements ClusterDriver {
  readonly system = 'meshlet';
  private readonly polled = new Map<string, Polled>();
  private problem: string | undefined;

  constructor(private readonly context: DriverContext) {}

  nodeName(index: number): string {
    return `m${index}`;
  }

  async start(index: number): Promise<GossipAgent> {
    const node = this.nodeName(index);
    const [adminPort] = (await freePorts(1)) as [number];
    const admin = `http://127.0.0.1:${adminPort}`;
    const configFile = join(this.context.tmpDir, `meshlet-${node}.yaml`);
    writeFileSync(configFile, meshletGossipConfig(node, index, adminPort, this.context.key));
    const startedAt = wallClockMs();
    const child = this.context.group.start(node, PROXY_CPU, process.execPath, agentNodeArgs(['-c', configFile]));
    await waitForHttpOk(child, `${admin}/readyz`);
    this.polled.set(node, { admin, startedAt, lastSentAt: startedAt, known: new Map() });
    return {
      index,
      node,
      process: child,
      members: async () => new Map(parseMeshletMembers(await getJson(`${admin}/api/v1/members`)).map((m) => [m.node, m.status])),
      changeCounts: async () => parseMemberChanges(await getText(`${admin}/metrics`)),
    };
  }

  /** One poll of every running agent; a change since its last poll becomes an observation, timed by `since`. */
  async refresh(agents: readonly GossipAgent[]): Promise<void> {
    await Promise.all(agents.filter((a) => a.process.isRunning()).map((agent) => this.poll(agent.node)));
  }

  private async poll(node: string): Promise<void> {
    const state = this.polled.get(node);
    if (!state) return;
    const sentAt = wallClockMs();
    let listed: ListedMember[];
    try {
      listed = parseMeshletMembers(await getJson(`${state.admin}/api/v1/members`));
    } catch (error) {
      // A loaded or dying agent may not answer this round; the next poll catches up.
      this.problem = `${node}: ${(error as Error).message}`;
      return;
    }
    const poll = { observer: node, listed, startedAt: state.startedAt, previousSentAt: state.lastSentAt, answeredAt: wallClockMs() };
    for (const observation of changesFound(poll, state.known)) {
      this.context.onObservation(observation);
      if (observation.status === 'suspect') this.context.onSuspicion(observation);
    }
    state.lastSentAt = sentAt;
  }

  lastProblem(): string | undefined {
    return this.problem;
  }

  close(): Promise<void> {
    this.polled.clear();
    return Promise.resolve();
  }
}
