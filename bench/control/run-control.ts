// The control suite: one real `meshlet control` and N real agent processes (bin/meshlet.js
// agent, the agent's V8 flags, a minimal config: one listener, one static upstream, the control
// section), all connected; then K policy versions applied one after another, each timed from
// the apply's return until every agent has ACKed it. ACKs are seen on the control plane's
// WatchMesh stream (an `agent` event per ACK, as the server records it), timed on arrival here
// with performance.now() (sub-millisecond; the stream's own delay is in the figure).
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { agentNodeArgs } from '../../src/cli/agent-v8-flags.ts';
import { bearerMetadata, createControlClient, type ControlClient, type MeshEvent } from '../../src/control/control-proto.ts';
import { LOAD_CPU, PROXY_CPU } from '../lib/cpus.ts';
import { freePorts } from '../lib/ports.ts';
import type { ManagedProcess, ProcessGroup } from '../lib/processes.ts';
import { readRssKiB } from '../lib/proc-stats.ts';
import { waitForHttpOk } from '../lib/readiness.ts';

export interface ControlOptions {
  readonly agents: number;
  readonly versions: number;
}

export interface VersionTiming {
  readonly version: number;
  /** ApplyPolicy's round trip (validation, fsync, answer). */
  readonly applyMs: number;
  /** From the apply's return until the last agent's ACK; an ACK seen before the return counts as 0. */
  readonly allAckedMs: number | undefined;
  /** Each agent's ACK, from the apply's return, ascending. */
  readonly ackMs: readonly number[];
}

export interface ControlRun {
  readonly agents: number;
  readonly startSeconds: number;
  readonly versions: readonly VersionTiming[];
  readonly agentRssKiB: readonly number[];
  readonly controlRssKiB: number;
  /** 1-minute load averages at the start and the end: other work on the machine shows in every figure. */
  readonly loadAverage: readonly [number, number];
  readonly error?: string;
}

const OPERATOR_TOKEN = 'bench-operator-token';
const AGENT_TOKEN = 'bench-agent-token';
/** Agents and the control plane may use both cores; this harness stays on the load CPU. */
const BOTH_CPUS = [LOAD_CPU, PROXY_CPU] as const;
/** Agents started at once: a Node start is mostly CPU, and there are two cores. */
const START_BATCH = 4;
const CONNECT_TIMEOUT_MS = 180_000;
const ACK_TIMEOUT_MS = 15_000;
/** Between versions, so each apply meets idle agents, as applies by an operator do. */
const PAUSE_MS = 1000;

function call<T>(client: ControlClient, method: 'ApplyPolicy' | 'ListAgents', request: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const invoke = client[method] as unknown as (r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: T) => void) => void;
    invoke.call(client, request, bearerMetadata(OPERATOR_TOKEN), { deadline: Date.now() + 10_000 }, (error, value) => (error ? reject(error) : resolve(value)));
  });
}

function agentConfig(node: string, adminPort: number, control: string): string {
  return stringify({
    node,
    admin: { listen: `127.0.0.1:${adminPort}` },
    log: { level: 'warn' },
    control: { address: control, token: AGENT_TOKEN, reportInterval: '10s' },
    upstreams: [{ name: 'svc', protocol: 'http', listen: '127.0.0.1:0', endpoints: ['127.0.0.1:9'] }],
  });
}

async function startControlPlane(group: ProcessGroup, tmpDir: string): Promise<{ process: ManagedProcess; address: string }> {
  const [listenPort, adminPort] = (await freePorts(2)) as [number, number];
  // The tokens reach `meshlet control` through its environment, which it inherits from here.
  process.env.MESHLET_OPERATOR_TOKEN = OPERATOR_TOKEN;
  process.env.MESHLET_AGENT_TOKEN = AGENT_TOKEN;
  const child = group.start('meshlet-control', BOTH_CPUS, process.execPath, [
    'bin/meshlet.js', 'control', '--listen', `127.0.0.1:${listenPort}`, '--data', join(tmpDir, 'control-data'), '--admin', `127.0.0.1:${adminPort}`,
  ]);
  await waitForHttpOk(child, `http://127.0.0.1:${adminPort}/readyz`);
  return { process: child, address: `127.0.0.1:${listenPort}` };
}

async function startAgents(group: ProcessGroup, tmpDir: string, control: string, count: number, log: (line: string) => void): Promise<ManagedProcess[]> {
  const ports = await freePorts(count);
  const agents: ManagedProcess[] = [];
  for (let first = 0; first < count; first += START_BATCH) {
    const batch = ports.slice(first, first + START_BATCH).map(async (port, offset) => {
      const node = `bench-agent-${String(first + offset + 1).padStart(3, '0')}`;
      const file = join(tmpDir, `${node}.yaml`);
      writeFileSync(file, agentConfig(node, port, control));
      const child = group.start(node, BOTH_CPUS, process.execPath, agentNodeArgs(['-c', file]));
      await waitForHttpOk(child, `http://127.0.0.1:${port}/readyz`, 60_000);
      return child;
    });
    agents.push(...await Promise.all(batch));
    if (agents.length % 10 === 0 || agents.length === count) log(`control: ${agents.length}/${count} agents started`);
  }
  return agents;
}

async function waitUntilConnected(client: ControlClient, count: number): Promise<void> {
  const deadline = performance.now() + CONNECT_TIMEOUT_MS;
  let connected = 0;
  while (performance.now() < deadline) {
    const { agents } = await call<{ agents: { connected: boolean }[] }>(client, 'ListAgents', {});
    connected = agents.filter((agent) => agent.connected).length;
    if (connected >= count) return;
    await sleep(200);
  }
  throw new Error(`only ${connected} of ${count} agents connected within ${CONNECT_TIMEOUT_MS / 1000} s`);
}

/** Every agent's ACK of each version, as WatchMesh reports it, with when it arrived here. */
class AckWatch {
  private readonly acks = new Map<number, Map<string, number>>();
  private readonly stream: grpc.ClientReadableStream<MeshEvent>;
  failure: string | undefined;

  constructor(client: ControlClient) {
    this.stream = client.WatchMesh({}, bearerMetadata(OPERATOR_TOKEN), {});
    this.stream.on('data', (event: MeshEvent) => {
      if (event.kind !== 'agent' || !event.agent.connected) return;
      const at = performance.now();
      let byNode = this.acks.get(event.agent.version);
      if (!byNode) this.acks.set(event.agent.version, (byNode = new Map()));
      if (!byNode.has(event.node)) byNode.set(event.node, at);
    });
    this.stream.on('error', (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) this.failure = `WatchMesh failed: ${error.details}`;
    });
  }

  async waitForAll(version: number, count: number, timeoutMs: number): Promise<ReadonlyMap<string, number>> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline && this.failure === undefined) {
      const byNode = this.acks.get(version);
      if (byNode && byNode.size >= count) return byNode;
      await sleep(1);
    }
    return this.acks.get(version) ?? new Map();
  }

  close(): void {
    this.stream.cancel();
  }
}

export async function runControl(group: ProcessGroup, tmpDir: string, options: ControlOptions, log: (line: string) => void): Promise<ControlRun> {
  const started = performance.now();
  const loadAtStart = loadavg()[0] ?? NaN;
  const control = await startControlPlane(group, tmpDir);
  const client = createControlClient(control.address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const versions: VersionTiming[] = [];
  let agents: ManagedProcess[] = [];
  try {
    agents = await startAgents(group, tmpDir, control.address, options.agents, log);
    await waitUntilConnected(client, options.agents);
    const startSeconds = (performance.now() - started) / 1000;
    log(`control: ${options.agents} agents connected ${startSeconds.toFixed(1)} s after the start`);
    const watch = new AckWatch(client);
    await sleep(PAUSE_MS);
    let expected = 0;
    for (let k = 1; k <= options.versions; k++) {
      const sent = performance.now();
      const applied = await call<{ ok: boolean; version: number; errors: unknown[] }>(client, 'ApplyPolicy', {
        documentJson: JSON.stringify({ upstreams: { svc: { timeout: `${1000 + k}ms` } } }), expectedVersion: expected, force: false, dryRun: false, author: 'bench',
      });
      const returned = performance.now();
      if (!applied.ok) throw new Error(`apply ${k} refused: ${JSON.stringify(applied.errors)}`);
      expected = applied.version;
      const byNode = await watch.waitForAll(applied.version, options.agents, ACK_TIMEOUT_MS);
      const ackMs = [...byNode.values()].map((at) => Math.max(0, at - returned)).sort((a, b) => a - b);
      const timing: VersionTiming = {
        version: applied.version,
        applyMs: returned - sent,
        allAckedMs: byNode.size >= options.agents ? ackMs[ackMs.length - 1] : undefined,
        ackMs,
      };
      versions.push(timing);
      log(`control: v${timing.version} applied in ${timing.applyMs.toFixed(1)} ms; ${byNode.size}/${options.agents} acked, the last ${timing.allAckedMs === undefined ? 'never' : `${timing.allAckedMs.toFixed(1)} ms`} after the apply returned`);
      if (watch.failure) throw new Error(watch.failure);
      await sleep(PAUSE_MS);
    }
    watch.close();
    const agentRssKiB = agents.map((agent) => readRssKiB(agent.pid));
    return { agents: options.agents, startSeconds, versions, agentRssKiB, controlRssKiB: readRssKiB(control.process.pid), loadAverage: [loadAtStart, loadavg()[0] ?? NaN] };
  } catch (error) {
    return {
      agents: options.agents, startSeconds: (performance.now() - started) / 1000, versions, agentRssKiB: [], controlRssKiB: NaN,
      loadAverage: [loadAtStart, loadavg()[0] ?? NaN], error: (error as Error).message,
    };
  } finally {
    client.close();
    for (const agent of agents) agent.terminate();
    await Promise.all(agents.map((agent) => agent.exited));
    control.process.terminate();
    await control.process.exited;
  }
}
