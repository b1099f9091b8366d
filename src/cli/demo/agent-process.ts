// Starts `meshlet agent -c FILE` as a child process and waits for its `agent ready` log line,
// which names every bound listener. Used by `meshlet demo` and the integration tests. The
// agent's V8 flags go on its command line, so bin/meshlet.js has nothing to relaunch and the
// child's PID is the agent's.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { agentNodeArgs } from '../agent-v8-flags.ts';
import { ManagedChild, type ExitStatus, type LogLine } from './managed-child.ts';
import { repoRoot } from './repo-root.ts';

export interface AgentProcessOptions {
  /** How long to wait for `agent ready` (default 15 s). */
  readonly readyTimeoutMs?: number;
  /** Environment of the agent (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Runs the agent under `ulimit -n` of this many descriptors. */
  readonly openFilesLimit?: number;
  /** Runs the agent inside this network namespace (`ip netns exec`; needs root). */
  readonly networkNamespace?: string;
}

export interface ReloadOutcome {
  readonly applied: boolean;
  /** The `config applied` or `config rejected` line. */
  readonly log: LogLine;
}

export interface RunningAgent {
  stderr(): string;
  readonly pid: number;
  /** `admin`, `proxy`, `upstream:<name>`, `service:<name>` → bound "host:port". */
  readonly listeners: Readonly<Record<string, string>>;
  /** The admin listener's "host:port". */
  readonly admin: string;
  readonly configPath: string;
  /** The agent's log lines so far, parsed. */
  logs(): readonly LogLine[];
  /** The first log line, past or future, that matches; rejects on timeout or exit. */
  waitForLog(matches: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Rewrites the config file, sends SIGHUP and waits for the agent's verdict. */
  reload(config: object | string): Promise<ReloadOutcome>;
  /** Signals the agent (SIGKILL after 15 s) and removes its temp dir. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
}

const verdicts = new Set(['config applied', 'config rejected']);

export function configText(config: object | string): string {
  return typeof config === 'string' ? config : stringify(config);
}

export async function startAgentProcess(config: object | string, options: AgentProcessOptions = {}): Promise<RunningAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'meshlet-agent-'));
  const configPath = join(dir, 'agent.yaml');
  await writeFile(configPath, configText(config));
  const child = ManagedChild.spawnNode('agent', agentNodeArgs(['-c', configPath]), {
    cwd: repoRoot,
    ...(options.env ? { env: options.env } : {}),
    ...(options.openFilesLimit !== undefined ? { openFilesLimit: options.openFilesLimit } : {}),
    ...(options.networkNamespace !== undefined ? { networkNamespace: options.networkNamespace } : {}),
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitStatus> => {
    const status = await child.stop(signal);
    await rm(dir, { recursive: true, force: true });
    return status;
  };

  let ready: LogLine;
  try {
    ready = await child.waitForLine((line) => line.msg === 'agent ready', options.readyTimeoutMs ?? 15_000);
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
  const listeners = ready.listeners as Record<string, string> | undefined;
  if (!listeners?.admin) {
    await stop('SIGKILL');
    throw new Error(`agent ready line names no admin listener: ${JSON.stringify(ready)}`);
  }

  return {
    pid: child.pid,
    stderr: () => child.stderr(),
    listeners,
    admin: listeners.admin,
    configPath,
    logs: () => child.lines(),
    waitForLog: (matches, timeoutMs = 10_000) => child.waitForLine(matches, timeoutMs),
    reload: async (next) => {
      await writeFile(configPath, configText(next));
      const from = child.lineCount;
      child.signal('SIGHUP');
      const log = await child.waitForLine((line) => verdicts.has(line.msg as string), 10_000, from);
      return { applied: log.msg === 'config applied', log };
    },
    stop,
  };
}
