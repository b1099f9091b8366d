// A real `meshlet control` process for integration tests (127.0.0.1, OS-chosen ports, a temp
// data dir unless one is given), promise helpers for its unary calls, and a raw Connect client
// that plays an agent message by message.
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedChild, type ExitStatus, type LogLine } from '../../src/cli/demo/managed-child.ts';
import { repoRoot } from '../../src/cli/demo/repo-root.ts';
import {
  bearerMetadata, createControlClient,
  type AgentMessageOut, type ControlClient, type ControlMessage, type PolicySnapshot,
} from '../../src/control/control-proto.ts';

export const OPERATOR_TOKEN = 'operator-token-for-tests';
export const AGENT_TOKEN = 'agent-token-for-tests';

export interface RunningControl {
  readonly pid: number;
  /** gRPC "host:port". */
  readonly address: string;
  /** Admin HTTP "host:port". */
  readonly admin: string;
  readonly dataDir: string;
  readonly child: ManagedChild;
  logs(): readonly LogLine[];
  /** Signals it (SIGKILL after 15 s); the data dir stays unless `removeData`. */
  stop(signal?: NodeJS.Signals, removeData?: boolean): Promise<ExitStatus>;
}

export interface StartControlOptions {
  readonly dataDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly args?: readonly string[];
  /** Default 127.0.0.1:0. */
  readonly listen?: string;
  /** `--store etcd://…` instead of `--data` (then dataDir is unused). */
  readonly store?: string;
}

export async function startControl(options: StartControlOptions = {}): Promise<RunningControl> {
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'meshlet-control-'));
  const storeArgs = options.store === undefined ? ['--data', dataDir] : ['--store', options.store];
  const args = ['bin/meshlet.js', 'control', '--listen', options.listen ?? '127.0.0.1:0', ...storeArgs, '--admin', '127.0.0.1:0', ...(options.args ?? [])];
  const env = options.env ?? { ...process.env, MESHLET_OPERATOR_TOKEN: OPERATOR_TOKEN, MESHLET_AGENT_TOKEN: AGENT_TOKEN };
  const child = ManagedChild.spawnNode('control', args, { cwd: repoRoot, env });
  const ready = await child.waitForLine((line) => line.msg === 'control ready', 15_000).catch(async (error: unknown) => {
    await child.stop('SIGKILL');
    throw error;
  });
  return {
    pid: child.pid,
    address: ready.listen as string,
    admin: ready.admin as string,
    dataDir,
    child,
    logs: () => child.lines(),
    stop: async (signal = 'SIGTERM', removeData = false) => {
      const status = await child.stop(signal);
      if (removeData) await rm(dataDir, { recursive: true, force: true });
      return status;
    },
  };
}

export function controlClient(address: string, credentials?: grpc.ChannelCredentials, options?: grpc.ChannelOptions): ControlClient {
  return createControlClient(address, credentials, { 'grpc.max_receive_message_length': 64 * 1024 * 1024, ...options });
}

type UnaryMethod = 'ApplyPolicy' | 'GetPolicy' | 'ListAgents' | 'GetMeshStatus' | 'Rollback' | 'ListPolicyVersions';

/** One unary call with `token` (default: the operator's; null: none); rejects with the grpc.ServiceError. */
export function call<M extends UnaryMethod>(
  client: ControlClient, method: M, request: Parameters<ControlClient[M]>[0], token: string | null = OPERATOR_TOKEN,
): Promise<Parameters<Parameters<ControlClient[M]>[3]>[1] & object> {
  const metadata = token === null ? new grpc.Metadata() : bearerMetadata(token);
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: unknown) => void) => void;
    fn.call(client, request, metadata, { deadline: Date.now() + 10_000 }, (error, value) => (error ? reject(error) : resolve(value as never)));
  });
}

/** Applies `document` on top of `expectedVersion` (force when undefined). */
export function apply(client: ControlClient, document: object, expectedVersion?: number, dryRun = false) {
  return call(client, 'ApplyPolicy', {
    documentJson: JSON.stringify(document), expectedVersion: expectedVersion ?? 0, force: expectedVersion === undefined, dryRun, author: 'test',
  });
}

/** A Connect stream driven by the test: it records every snapshot and the final status. */
export class RawAgent {
  readonly stream: grpc.ClientDuplexStream<AgentMessageOut, ControlMessage>;
  readonly snapshots: PolicySnapshot[] = [];
  /** Resolves with the stream's status, however it ends. */
  readonly status: Promise<grpc.StatusObject>;
  private readonly waiters = new Set<{ version: number; resolve: (s: PolicySnapshot) => void }>();

  /** `token` null: none. */
  constructor(client: ControlClient, token: string | null = AGENT_TOKEN) {
    this.stream = client.Connect(token === null ? new grpc.Metadata() : bearerMetadata(token));
    this.stream.on('data', (message: ControlMessage) => {
      this.snapshots.push(message.snapshot);
      for (const waiter of this.waiters) {
        if (message.snapshot.version >= waiter.version) {
          this.waiters.delete(waiter);
          waiter.resolve(message.snapshot);
        }
      }
    });
    this.status = new Promise((resolve) => {
      this.stream.on('status', resolve);
      // An error also comes as a status; this keeps it from being unhandled.
      this.stream.on('error', () => undefined);
    });
  }

  hello(node: string, policyVersion = 0): this {
    this.stream.write({ hello: { node, version: 'test', services: ['svc'], upstreams: ['payments'], policyVersion } });
    return this;
  }

  send(message: AgentMessageOut): this {
    this.stream.write(message);
    return this;
  }

  /** The first snapshot of `version` or later, past or future; rejects after timeoutMs. */
  snapshot(version: number, timeoutMs = 10_000): Promise<PolicySnapshot> {
    const seen = this.snapshots.find((s) => s.version >= version);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { version, resolve: (s: PolicySnapshot) => {
        clearTimeout(timer);
        resolve(s);
      } };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no snapshot of version ${version} within ${timeoutMs} ms (got ${this.snapshots.map((s) => s.version).join(', ') || 'none'})`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  close(): void {
    this.stream.cancel();
  }
}

/** The admin listener's /metrics value of a series (its full name with labels), or undefined. */
export async function adminMetric(admin: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
