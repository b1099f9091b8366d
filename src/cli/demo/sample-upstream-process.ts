// Starts a sample upstream (upstream-server.ts) as a child process and waits for its ready line.
import { ManagedChild } from './managed-child.ts';
import { formatHostPort } from '../../config/address.ts';
import { repoRoot } from './repo-root.ts';

export const upstreamKinds = ['http1', 'h2c', 'grpc'] as const;
export type UpstreamKind = (typeof upstreamKinds)[number];

export function isUpstreamKind(text: string): text is UpstreamKind {
  return (upstreamKinds as readonly string[]).includes(text);
}

export interface SampleUpstreamOptions {
  readonly kind: UpstreamKind;
  readonly id: string;
  readonly host?: string;
  readonly readyTimeoutMs?: number;
}

export interface SampleUpstream {
  readonly id: string;
  readonly kind: UpstreamKind;
  readonly port: number;
  /** "host:port", as an agent's endpoint list takes it. */
  readonly address: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startSampleUpstream(options: SampleUpstreamOptions): Promise<SampleUpstream> {
  const host = options.host ?? '127.0.0.1';
  // The compiled copy starts in about a third of the time tsx needs; dist/ is built by npm ci
  // and before every test run, like the agent's own.
  const args = ['dist/cli/demo/upstream-server.js', '--kind', options.kind, '--id', options.id, '--port', '0', '--host', host];
  const child = ManagedChild.spawnNode(`upstream ${options.id}`, args, { cwd: repoRoot });
  try {
    const ready = await child.waitForLine((line) => line.ready === true, options.readyTimeoutMs ?? 10_000);
    const port = Number(ready.port);
    return {
      id: options.id,
      kind: options.kind,
      port,
      address: formatHostPort(host, port),
      pid: child.pid,
      stop: async () => {
        await child.stop('SIGTERM', 5_000);
      },
    };
  } catch (error) {
    await child.stop('SIGKILL');
    throw error;
  }
}
