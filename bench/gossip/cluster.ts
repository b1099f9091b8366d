// What the gossip suite needs from a cluster, whichever system runs it: start member i on its
// own loopback address, read each agent's view and its counts of suspicions and deaths, and
// learn of membership changes with the time they happened. Serf (serf-driver.ts) reports
// changes in its log as they happen; Meshlet (meshlet-driver.ts) is asked, by refresh().
import type { ManagedProcess, ProcessGroup } from '../lib/processes.ts';

export type GossipSystem = 'meshlet' | 'serf';
export const GOSSIP_SYSTEMS: readonly GossipSystem[] = ['meshlet', 'serf'];

/** A member's status as one agent sees it; Serf's "failed" is dead. */
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** Agent `observer` saw `member` enter `status` at `at` (epoch ms). */
export interface Observation {
  readonly observer: string;
  readonly member: string;
  readonly status: MemberStatus;
  readonly at: number;
}

/** Transitions an agent has seen since it started, about other members. */
export interface ChangeCounts {
  readonly suspect: number;
  readonly dead: number;
}

/** Every agent of both systems gossips on this port, each on its own 127.0.0.x. */
export const GOSSIP_PORT = 7946;

/** Member i (1-based) binds 127.0.0.(i+1); member 1 is the seed everyone joins through. */
export function gossipHost(index: number): string {
  if (!Number.isInteger(index) || index < 1 || index > 253) throw new Error(`member index ${index} is outside 1..253`);
  return `127.0.0.${index + 1}`;
}

export function gossipAddress(index: number): string {
  return `${gossipHost(index)}:${GOSSIP_PORT}`;
}

export const SEED_INDEX = 1;

export interface GossipAgent {
  readonly index: number;
  readonly node: string;
  readonly process: ManagedProcess;
  /** The members this agent lists (itself left out), with their status, from its own API. */
  members(): Promise<ReadonlyMap<string, MemberStatus>>;
  changeCounts(): Promise<ChangeCounts>;
}

export interface ClusterDriver {
  readonly system: GossipSystem;
  /** The node name of member `index`. */
  nodeName(index: number): string;
  /**
   * Starts member `index`, joining the seed unless it is the seed, and resolves once its API
   * answers. Changes it sees go to the driver's observation listener.
   */
  start(index: number): Promise<GossipAgent>;
  /** Brings the observations of every running agent up to date (a no-op where they are pushed). */
  refresh(agents: readonly GossipAgent[]): Promise<void>;
  /** The last error an agent's API gave when asked (a poll that failed, a body of another shape), for a timeout's message. */
  lastProblem(): string | undefined;
  /** Closes what the driver holds open besides the agents (the runner stops those, by PID). */
  close(): Promise<void>;
}

export type ObservationListener = (observation: Observation) => void;

/** What both drivers are built with: where to start processes and write configs, the cluster's key, where changes go. */
export interface DriverContext {
  readonly group: ProcessGroup;
  readonly tmpDir: string;
  /** 32 random bytes, base64: Meshlet's keyring and Serf's -encrypt take the same. */
  readonly key: string;
  readonly onObservation: ObservationListener;
  /**
   * An agent suspected a member (Meshlet: listed it suspect; Serf: logged its own probe of it as
   * failed). Kept apart from the observations: Serf logs no change when a suspect refutes.
   */
  readonly onSuspicion: ObservationListener;
}

/** Epoch milliseconds with sub-millisecond precision, comparable across processes on this machine. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
