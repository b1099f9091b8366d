// The gossip suite of `npm run bench`: for each cluster size, Meshlet and Serf in turn on the
// same loopback addresses and port, the same key length and probe interval. Per cluster: start
// n − 3 members and let them converge, time the joins of the last three one at a time, count
// gossip bytes, CPU and RSS while idle, count suspicions and deaths while stress-ng loads both
// cores, then kill -9 members one at a time, time until every survivor lists each dead, and
// restart it before the next.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { clockTicksPerSecond, readCpuTicks, readRssKiB } from '../lib/proc-stats.ts';
import type { ProcessGroup } from '../lib/processes.ts';
import { lastError } from '../lib/readiness.ts';
import { gossipHost, GOSSIP_PORT, SEED_INDEX, wallClockMs, type ChangeCounts, type ClusterDriver, type DriverContext, type GossipAgent, type GossipSystem, type MemberStatus, type Observation } from './cluster.ts';
import { convergedAt, detectionMs, firstSuspicion, missingPairs } from './membership.ts';
import { MeshletDriver } from './meshlet-driver.ts';
import { SerfDriver } from './serf-driver.ts';
import { summarizeTraffic, TrafficCounters, type TrafficSummary } from './traffic.ts';
import { addressesInUse, waitForUdpBound } from './udp-sockets.ts';

export interface GossipOptions {
  readonly sizes: readonly number[];
  readonly systems: readonly GossipSystem[];
  /** Seconds of stress-ng on both cores. */
  readonly stressS: number;
  /** Seconds of the idle window bytes are counted over. */
  readonly idleS: number;
  /** Members killed one after another, each timed. */
  readonly kills: number;
}

export interface StressResult {
  readonly seconds: number;
  /** Alive-to-suspect transitions every agent saw, summed: every member was healthy, so each is false. */
  readonly suspicions: number;
  /** Transitions to dead, summed over the agents. */
  readonly deaths: number;
  /** Whether every agent listed every other alive again within RECOVERY_TIMEOUT_MS after it. */
  readonly recovered: boolean;
}

export interface GossipResult {
  /**
   * Per joiner (the last JOIN_SAMPLES members, one at a time): from its gossip socket being bound
   * until every member so far lists every other alive; undefined: not within JOIN_TIMEOUT_MS.
   */
  readonly joinMs: readonly (number | undefined)[];
  /** Per kill, until the last survivor listed the victim dead; undefined: not within DETECT_TIMEOUT_MS. */
  readonly detectionMs: readonly (number | undefined)[];
  /** Per kill, until the first survivor suspected the victim; undefined: none was seen to. */
  readonly firstSuspicionMs: readonly (number | undefined)[];
  readonly stress: StressResult;
  readonly traffic: TrafficSummary;
  /** VmRSS of every agent at the end of the idle window. */
  readonly rssKiB: readonly number[];
  /** CPU (user + system) of every agent over the idle window, in ms per second. */
  readonly cpuMsPerSecond: readonly number[];
  /** Anything that makes the figures doubtful (an agent's API contradicting its observations). */
  readonly notes: readonly string[];
}

export interface GossipRun {
  readonly system: GossipSystem;
  readonly n: number;
  readonly result: GossipResult | undefined;
  readonly error?: string;
}

const START_BATCH = 5;
const JOIN_SAMPLES = 3;
/** Between one timed join and the next. */
const JOIN_PAUSE_MS = 1000;
/** A join that takes longer is noted with the listings still missing at this point. */
const SLOW_JOIN_MS = 3000;
const POLL_MS = 200;
const FORM_TIMEOUT_MS = 60_000;
const JOIN_TIMEOUT_MS = 30_000;
const DETECT_TIMEOUT_MS = 60_000;
const RECOVERY_TIMEOUT_MS = 30_000;
/** Lets the join's broadcasts die down before the idle window, and a kill's before the next. */
const SETTLE_MS = 3000;
/** The kills' random phase: one probe interval. */
const KILL_PHASE_MS = 1000;
/** After the stress: a suspicion raised under it is refuted or becomes a death within this. */
const STRESS_GRACE_MS = 10_000;
const STOP_GRACE_MS = 5000;
const ADDRESS_WAIT_MS = 60_000;
const ADDRESS_POLL_MS = 1000;

/**
 * The members to kill, spread over the cluster and never the seed: for n = 10 and 3 kills,
 * 10, 7, 4. Each is restarted before the next kill, so a small cluster's members come round again.
 */
export function victimIndices(n: number, kills: number): number[] {
  const others = n - SEED_INDEX;
  const step = Math.max(1, Math.floor(others / Math.max(1, kills)));
  return Array.from({ length: others > 0 ? kills : 0 }, (_, k) => n - ((k * step) % others));
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

function newDriver(system: GossipSystem, context: DriverContext): ClusterDriver {
  return system === 'serf' ? new SerfDriver(context) : new MeshletDriver(context);
}

/** SIGTERM to each agent still running, SIGKILL by PID to any left after the grace. */
async function stopAgents(agents: readonly GossipAgent[]): Promise<void> {
  const running = agents.filter((a) => a.process.isRunning());
  for (const agent of running) agent.process.terminate();
  await Promise.race([Promise.all(running.map((a) => a.process.exited)), sleep(STOP_GRACE_MS)]);
  for (const agent of running) if (agent.process.isRunning()) process.kill(agent.process.pid, 'SIGKILL');
  await Promise.all(running.map((a) => a.process.exited));
}

async function stressBothCores(group: ProcessGroup, seconds: number): Promise<void> {
  const stress = group.start('stress-ng', [0, 1], 'stress-ng', ['--cpu', '2', '--timeout', `${seconds}s`, '--quiet']);
  const code = await Promise.race([stress.exited, sleep(seconds * 1000 + 10_000).then(() => 'late' as const)]);
  if (code === 'late') {
    process.kill(stress.pid, 'SIGKILL');
    await stress.exited;
    throw new Error(`stress-ng ran past its ${seconds} s`);
  }
  if (code !== 0) throw new Error(`stress-ng exited with ${code}: ${lastError(stress.outputTail())}`);
}

/** One cluster under test: its driver, the agents started, everything they were seen to see. */
class Cluster {
  readonly observations: Observation[] = [];
  readonly suspicions: Observation[] = [];
  /** Anything that makes the figures doubtful, or explains one that stands out. */
  readonly notes: string[] = [];
  readonly agents: GossipAgent[] = [];
  readonly driver: ClusterDriver;

  constructor(system: GossipSystem, group: ProcessGroup, tmpDir: string) {
    this.driver = newDriver(system, { group, tmpDir, key: randomBytes(32).toString('base64'), onObservation: (o) => this.observations.push(o), onSuspicion: (o) => this.suspicions.push(o) });
  }

  running(): GossipAgent[] {
    return this.agents.filter((a) => a.process.isRunning());
  }

  nodes(indices: readonly number[]): string[] {
    return indices.map((i) => this.driver.nodeName(i));
  }

  /** Polls (where the driver must) until `done()` or `timeoutMs`; whether it got there. */
  async waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await this.driver.refresh(this.running());
      if (done()) return true;
      if (performance.now() >= deadline) return false;
      await sleep(POLL_MS);
    }
  }

  /** Starts the seed, then members 2..`to` START_BATCH at a time, and waits until they all list each other alive. */
  async form(to: number): Promise<void> {
    this.agents.push(await this.driver.start(SEED_INDEX));
    for (let i = SEED_INDEX + 1; i <= to; i += START_BATCH) {
      this.agents.push(...(await Promise.all(range(i, Math.min(i + START_BATCH - 1, to)).map((j) => this.driver.start(j)))));
    }
    const members = this.nodes(range(1, to));
    if (!(await this.waitUntil(() => convergedAt(this.observations, members, 0) !== undefined, FORM_TIMEOUT_MS))) {
      throw new Error(`the first ${to} members did not all list each other alive within ${FORM_TIMEOUT_MS / 1000} s${this.problem()}`);
    }
  }

  /** Starts member `index` and times its join: from its gossip socket being bound until `members()` list each other alive. */
  async timeJoin(index: number, timeoutMs = JOIN_TIMEOUT_MS, members = (): string[] => this.nodes(range(1, index))): Promise<number | undefined> {
    let failed: string | undefined;
    const started = this.driver.start(index).then(
      (agent) => void this.agents.push(agent),
      (error: Error) => {
        failed = error.message;
        throw error;
      },
    );
    const [boundAt] = await Promise.all([waitForUdpBound(gossipHost(index), GOSSIP_PORT, timeoutMs, () => failed, wallClockMs), started]);
    const converged = (): boolean => convergedAt(this.observations, members(), boundAt) !== undefined;
    // A join still open after SLOW_JOIN_MS is worth knowing about: who had not heard of whom.
    let joined = await this.waitUntil(converged, Math.min(SLOW_JOIN_MS, timeoutMs));
    if (!joined) {
      const missing = missingPairs(this.observations, members());
      joined = await this.waitUntil(converged, timeoutMs - SLOW_JOIN_MS);
      const took = joined ? `${((convergedAt(this.observations, members(), boundAt)! - boundAt) / 1000).toFixed(1)} s` : `more than ${timeoutMs / 1000} s`;
      this.notes.push(`${this.driver.nodeName(index)} joined in ${took}; ${SLOW_JOIN_MS / 1000} s in, ${missing.length} listing(s) still off: ${missing.slice(0, 6).join(', ')}${missing.length > 6 ? ', …' : ''}`);
    }
    return joined ? convergedAt(this.observations, members(), boundAt)! - boundAt : undefined;
  }

  /**
   * kill -9 of member `index`, then the time until every survivor lists it dead (undefined: not
   * within DETECT_TIMEOUT_MS) and until the first one suspected it.
   */
  async timeDetection(index: number): Promise<{ deadMs: number | undefined; firstSuspicion: { observer: string; ms: number } | undefined }> {
    const victim = this.running().find((a) => a.index === index);
    if (!victim) throw new Error(`member ${index} is not running`);
    // Every wait before a kill ends on a poll or a logged event, which may keep step with the
    // agents' 1 s probe ticks; a random phase keeps the kill from landing at a fixed point of them.
    await sleep(Math.random() * KILL_PHASE_MS);
    const killedAt = wallClockMs();
    process.kill(victim.process.pid, 'SIGKILL');
    await victim.process.exited;
    const survivors = this.running().map((a) => a.node);
    const seen = await this.waitUntil(() => detectionMs(this.observations, survivors, victim.node, killedAt) !== undefined, DETECT_TIMEOUT_MS);
    return {
      deadMs: seen ? detectionMs(this.observations, survivors, victim.node, killedAt) : undefined,
      firstSuspicion: firstSuspicion(this.suspicions, survivors, victim.node, killedAt),
    };
  }

  /**
   * Starts member `index` again after its kill (its old agent is gone) and waits until everyone
   * lists everyone alive; how long from its gossip socket being bound, or undefined past RECOVERY_TIMEOUT_MS.
   */
  async restart(index: number): Promise<number | undefined> {
    const old = this.agents.findIndex((a) => a.index === index);
    if (old >= 0) this.agents.splice(old, 1);
    return this.timeJoin(index, RECOVERY_TIMEOUT_MS, () => this.running().map((a) => a.node));
  }

  /** Whether every running agent lists every other alive, waiting up to `timeoutMs`. */
  recovers(timeoutMs: number): Promise<boolean> {
    return this.waitUntil(() => convergedAt(this.observations, this.running().map((a) => a.node), 0) !== undefined, timeoutMs);
  }

  /**
   * What the agents' own APIs list against what their observations say: every running agent
   * lists every other alive. Empty when they agree; else one line per agent that does not.
   */
  async crossCheck(): Promise<string[]> {
    const running = this.running();
    const views = await Promise.all(running.map(async (agent) => [agent.node, await agent.members()] as const));
    return disagreements(new Map(views), running.map((a) => a.node));
  }

  async counts(): Promise<ChangeCounts> {
    const all = await Promise.all(this.running().map((a) => a.changeCounts()));
    return all.reduce((sum, c) => ({ suspect: sum.suspect + c.suspect, dead: sum.dead + c.dead }), { suspect: 0, dead: 0 });
  }

  private problem(): string {
    const last = this.driver.lastProblem();
    return last === undefined ? '' : ` (last problem reading an agent: ${last})`;
  }

  async close(): Promise<void> {
    await stopAgents(this.agents);
    await this.driver.close();
  }
}

/** Per agent whose own listing misses or does not list as alive one of `nodes`: what it lists instead. */
export function disagreements(views: ReadonlyMap<string, ReadonlyMap<string, MemberStatus>>, nodes: readonly string[]): string[] {
  const lines: string[] = [];
  for (const observer of nodes) {
    const view = views.get(observer);
    const off = nodes.filter((n) => n !== observer && view?.get(n) !== 'alive').map((n) => `${n} ${view?.get(n) ?? 'missing'}`);
    if (off.length > 0) lines.push(`${observer} lists ${off.join(', ')}`);
  }
  return lines;
}

/** Another test's agents on these addresses are let finish for a while before the cluster is given up. */
async function waitForFreeAddresses(hosts: readonly string[], say: (what: string) => void): Promise<void> {
  for (let waited = 0; ; waited += ADDRESS_POLL_MS) {
    const taken = addressesInUse(hosts, GOSSIP_PORT);
    if (taken.length === 0) return;
    if (waited >= ADDRESS_WAIT_MS) throw new Error(`gossip addresses held by another process for ${ADDRESS_WAIT_MS / 1000} s: ${taken.join(', ')}`);
    if (waited === 0) say(`waiting for ${taken.join(', ')}, held by another process`);
    await sleep(ADDRESS_POLL_MS);
  }
}

async function runCluster(group: ProcessGroup, tmpDir: string, system: GossipSystem, n: number, options: GossipOptions, log: (line: string) => void): Promise<GossipResult> {
  const say = (what: string): void => log(`gossip ${system} n=${n}: ${what}`);
  await waitForFreeAddresses(range(1, n).map(gossipHost), say);
  const cluster = new Cluster(system, group, tmpDir);
  const traffic = await TrafficCounters.install(group, tmpDir, range(1, n).map((i) => ({ node: cluster.driver.nodeName(i), host: gossipHost(i) })));
  try {
    const joiners = Math.min(JOIN_SAMPLES, n - 1);
    await cluster.form(n - joiners);
    const joinMs: (number | undefined)[] = [];
    for (const index of range(n - joiners + 1, n)) {
      joinMs.push(await cluster.timeJoin(index));
      await sleep(JOIN_PAUSE_MS);
    }
    say(`joins ${joinMs.map((ms) => (ms === undefined ? 'never' : `${ms.toFixed(0)} ms`)).join(', ')}`);
    const notes = cluster.notes;
    const crossCheck = async (when: string): Promise<void> => {
      const off = await cluster.crossCheck();
      if (off.length > 0) notes.push(`${when}, the agents' own listings disagreed with what they were seen to see: ${off.slice(0, 3).join('; ')}${off.length > 3 ? ` (and ${off.length - 3} more)` : ''}`);
    };
    if (joinMs.every((ms) => ms !== undefined)) await crossCheck('after the joins');

    await sleep(SETTLE_MS);
    const idle = cluster.running();
    const before = await traffic.read();
    const ticksBefore = idle.map((a) => readCpuTicks(a.process.pid));
    const windowStart = performance.now();
    await sleep(options.idleS * 1000);
    const after = await traffic.read();
    const ticksAfter = idle.map((a) => readCpuTicks(a.process.pid));
    const idleSeconds = (performance.now() - windowStart) / 1000;
    const trafficSummary = summarizeTraffic(before, after, cluster.nodes(range(1, n)), idleSeconds);
    const rssKiB = idle.map((a) => readRssKiB(a.process.pid));
    const msPerTick = 1000 / clockTicksPerSecond();
    const cpuMsPerSecond = idle.map((_, i) => ((ticksAfter[i]! - ticksBefore[i]!) * msPerTick) / idleSeconds);
    say(`${trafficSummary.bytesPerSecondPerMember.toFixed(0)} B/s per member, RSS up to ${(Math.max(...rssKiB) / 1024).toFixed(1)} MiB`);

    const countsBefore = await cluster.counts();
    await stressBothCores(group, options.stressS);
    await sleep(STRESS_GRACE_MS);
    const countsAfter = await cluster.counts();
    const recovered = await cluster.recovers(RECOVERY_TIMEOUT_MS);
    if (recovered) await crossCheck('after the stress');
    const stress: StressResult = { seconds: options.stressS, suspicions: countsAfter.suspect - countsBefore.suspect, deaths: countsAfter.dead - countsBefore.dead, recovered };
    say(`under stress ${stress.suspicions} suspicions, ${stress.deaths} deaths${recovered ? '' : ', not all alive again after it'}`);

    const detections: (number | undefined)[] = [];
    const firstSuspicions: (number | undefined)[] = [];
    for (const index of victimIndices(n, options.kills)) {
      const name = cluster.driver.nodeName(index);
      const { deadMs: ms, firstSuspicion: suspicion } = await cluster.timeDetection(index);
      detections.push(ms);
      firstSuspicions.push(suspicion?.ms);
      const suspected = suspicion === undefined ? '' : `, first suspected by ${suspicion.observer} after ${(suspicion.ms / 1000).toFixed(2)} s`;
      say(`kill -9 ${name}, every survivor listed it dead after ${ms === undefined ? `more than ${DETECT_TIMEOUT_MS / 1000} s` : `${(ms / 1000).toFixed(2)} s`}${suspected}`);
      // Restarted under its name and address, as a crashed sidecar is, so every kill meets n members.
      const rejoinMs = await cluster.restart(index);
      if (rejoinMs === undefined) {
        notes.push(`${name}, restarted after its kill, was not listed alive by every member within ${RECOVERY_TIMEOUT_MS / 1000} s; no more kills`);
        break;
      }
      say(`${name} restarted, listed alive by all after ${rejoinMs.toFixed(0)} ms`);
      await sleep(SETTLE_MS);
    }
    for (const note of notes) say(note);
    return { joinMs, detectionMs: detections, firstSuspicionMs: firstSuspicions, stress, traffic: trafficSummary, rssKiB, cpuMsPerSecond, notes };
  } finally {
    await cluster.close();
    await traffic.remove();
  }
}

export async function runGossip(group: ProcessGroup, tmpDir: string, options: GossipOptions, log: (line: string) => void, onRun: (run: GossipRun) => void = () => {}): Promise<GossipRun[]> {
  const runs: GossipRun[] = [];
  for (const [i, n] of options.sizes.entries()) {
    // Alternate which system goes first, so neither always meets the machine fresher.
    const systems = i % 2 === 0 ? options.systems : options.systems.toReversed();
    for (const system of systems) {
      try {
        runs.push({ system, n, result: await runCluster(group, tmpDir, system, n, options, log) });
      } catch (error) {
        runs.push({ system, n, result: undefined, error: (error as Error).message });
        log(`gossip ${system} n=${n}: failed: ${(error as Error).message}`);
      }
      onRun(runs.at(-1)!);
    }
  }
  return runs;
}
