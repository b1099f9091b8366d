// The gossip suite of `npm run bench`: for each cluster size, Meshlet and Serf in turn on the
// same loopback addresses and port, the same key length and probe interval. Per cluster: start
// n − 1 members and let them converge, time the n-th member's join, count gossip bytes and RSS
// while idle, count suspicions and deaths while stress-ng loads both cores, then kill -9 members
// one at a time and time until every survivor lists each dead.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { readRssKiB } from '../lib/proc-stats.ts';
import type { ProcessGroup } from '../lib/processes.ts';
import { lastError } from '../lib/readiness.ts';
import { gossipHost, GOSSIP_PORT, SEED_INDEX, wallClockMs, type ChangeCounts, type ClusterDriver, type DriverContext, type GossipAgent, type GossipSystem, type Observation } from './cluster.ts';
import { convergedAt, detectionMs } from './membership.ts';
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
  /** From the joiner's gossip socket being bound until all n list all alive; undefined: not within JOIN_TIMEOUT_MS. */
  readonly joinMs: number | undefined;
  /** Per kill, until the last survivor listed the victim dead; undefined: not within DETECT_TIMEOUT_MS. */
  readonly detectionMs: readonly (number | undefined)[];
  readonly stress: StressResult;
  readonly traffic: TrafficSummary;
  /** VmRSS of every agent at the end of the idle window. */
  readonly rssKiB: readonly number[];
}

export interface GossipRun {
  readonly system: GossipSystem;
  readonly n: number;
  readonly result: GossipResult | undefined;
  readonly error?: string;
}

const START_BATCH = 5;
const POLL_MS = 200;
const FORM_TIMEOUT_MS = 60_000;
const JOIN_TIMEOUT_MS = 30_000;
const DETECT_TIMEOUT_MS = 60_000;
const RECOVERY_TIMEOUT_MS = 30_000;
/** Lets the join's broadcasts die down before the idle window, and a kill's before the next. */
const SETTLE_MS = 3000;
/** After the stress: a suspicion raised under it is refuted or becomes a death within this. */
const STRESS_GRACE_MS = 10_000;
const STOP_GRACE_MS = 5000;

/** The members to kill, spread over the cluster and never the seed: for n = 10 and 3 kills, 10, 7, 4. */
export function victimIndices(n: number, kills: number): number[] {
  const step = Math.max(1, Math.floor((n - 1) / Math.max(1, kills)));
  const victims: number[] = [];
  for (let k = 0; k < kills; k++) {
    const index = n - k * step;
    if (index <= SEED_INDEX) break;
    victims.push(index);
  }
  return victims;
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

function newDriver(system: GossipSystem, context: DriverContext): ClusterDriver {
  return system === 'serf' ? new SerfDriver(context) : new MeshletDriver(context);
}

/** Polls (where the driver must) until `done()` or `timeoutMs`; whether it got there. */
async function waitUntil(driver: ClusterDriver, agents: () => readonly GossipAgent[], done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    await driver.refresh(agents());
    if (done()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

async function summedCounts(agents: readonly GossipAgent[]): Promise<ChangeCounts> {
  const all = await Promise.all(agents.map((a) => a.changeCounts()));
  return all.reduce((sum, c) => ({ suspect: sum.suspect + c.suspect, dead: sum.dead + c.dead }), { suspect: 0, dead: 0 });
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

async function runCluster(group: ProcessGroup, tmpDir: string, system: GossipSystem, n: number, options: GossipOptions, log: (line: string) => void): Promise<GossipResult> {
  const hosts = range(1, n).map(gossipHost);
  const taken = addressesInUse(hosts, GOSSIP_PORT);
  if (taken.length > 0) throw new Error(`gossip addresses in use by another process: ${taken.join(', ')}`);
  const observations: Observation[] = [];
  const driver = newDriver(system, { group, tmpDir, key: randomBytes(32).toString('base64'), onObservation: (o) => observations.push(o) });
  const nodes = (indices: readonly number[]): string[] => indices.map((i) => driver.nodeName(i));
  const agents: GossipAgent[] = [];
  const running = (): GossipAgent[] => agents.filter((a) => a.process.isRunning());
  const traffic = await TrafficCounters.install(group, tmpDir, range(1, n).map((i) => ({ node: driver.nodeName(i), host: gossipHost(i) })));
  try {
    agents.push(await driver.start(SEED_INDEX));
    for (let i = SEED_INDEX + 1; i < n; i += START_BATCH) {
      agents.push(...(await Promise.all(range(i, Math.min(i + START_BATCH - 1, n - 1)).map((j) => driver.start(j)))));
    }
    const first = nodes(range(1, n - 1));
    if (!(await waitUntil(driver, running, () => convergedAt(observations, first, 0) !== undefined, FORM_TIMEOUT_MS))) {
      throw new Error(`the first ${n - 1} members did not all list each other alive within ${FORM_TIMEOUT_MS / 1000} s`);
    }

    let joinerFailed: string | undefined;
    const joiner = driver.start(n).then(
      (agent) => void agents.push(agent),
      (error: Error) => {
        joinerFailed = error.message;
        throw error;
      },
    );
    const [boundAt] = await Promise.all([waitForUdpBound(gossipHost(n), GOSSIP_PORT, JOIN_TIMEOUT_MS, () => joinerFailed, wallClockMs), joiner]);
    const everyone = nodes(range(1, n));
    const joined = await waitUntil(driver, running, () => convergedAt(observations, everyone, boundAt) !== undefined, JOIN_TIMEOUT_MS);
    const joinMs = joined ? convergedAt(observations, everyone, boundAt)! - boundAt : undefined;
    log(`gossip ${system} n=${n}: join ${joinMs === undefined ? 'did not converge' : `${joinMs.toFixed(0)} ms`}`);

    await sleep(SETTLE_MS);
    const before = await traffic.read();
    const windowStart = performance.now();
    await sleep(options.idleS * 1000);
    const after = await traffic.read();
    const trafficSummary = summarizeTraffic(before, after, everyone, (performance.now() - windowStart) / 1000);
    const rssKiB = running().map((a) => readRssKiB(a.process.pid));
    log(`gossip ${system} n=${n}: ${trafficSummary.bytesPerSecondPerMember.toFixed(0)} B/s per member, RSS up to ${(Math.max(...rssKiB) / 1024).toFixed(1)} MiB`);

    const countsBefore = await summedCounts(running());
    await stressBothCores(group, options.stressS);
    await sleep(STRESS_GRACE_MS);
    const countsAfter = await summedCounts(running());
    const recovered = await waitUntil(driver, running, () => convergedAt(observations, nodes(running().map((a) => a.index)), 0) !== undefined, RECOVERY_TIMEOUT_MS);
    const stress: StressResult = { seconds: options.stressS, suspicions: countsAfter.suspect - countsBefore.suspect, deaths: countsAfter.dead - countsBefore.dead, recovered };
    log(`gossip ${system} n=${n}: under stress ${stress.suspicions} suspicions, ${stress.deaths} deaths${recovered ? '' : ', not all alive again after it'}`);

    const detections: (number | undefined)[] = [];
    for (const index of victimIndices(n, options.kills)) {
      const victim = agents.find((a) => a.index === index && a.process.isRunning());
      if (!victim) continue;
      const killedAt = wallClockMs();
      process.kill(victim.process.pid, 'SIGKILL');
      await victim.process.exited;
      const survivors = running().map((a) => a.node);
      const seen = await waitUntil(driver, running, () => detectionMs(observations, survivors, victim.node, killedAt) !== undefined, DETECT_TIMEOUT_MS);
      const ms = seen ? detectionMs(observations, survivors, victim.node, killedAt) : undefined;
      detections.push(ms);
      log(`gossip ${system} n=${n}: kill -9 ${victim.node}, every survivor listed it dead after ${ms === undefined ? `more than ${DETECT_TIMEOUT_MS / 1000} s` : `${(ms / 1000).toFixed(2)} s`}`);
      await sleep(SETTLE_MS);
    }
    return { joinMs, detectionMs: detections, stress, traffic: trafficSummary, rssKiB };
  } finally {
    await stopAgents(agents);
    await driver.close();
    await traffic.remove();
  }
}

export async function runGossip(group: ProcessGroup, tmpDir: string, options: GossipOptions, log: (line: string) => void): Promise<GossipRun[]> {
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
    }
  }
  return runs;
}
