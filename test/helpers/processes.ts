// Real processes for integration tests: sample upstreams and the agent, each on 127.0.0.1 with
// an OS-chosen port, each stopped by its PID. Whatever a test leaves running is killed when
// the test process exits (see src/cli/demo/managed-child.ts).
import { startAgentProcess, type AgentProcessOptions, type RunningAgent } from '../../src/cli/demo/agent-process.ts';
import { startSampleUpstream, type SampleUpstream, type UpstreamKind } from '../../src/cli/demo/sample-upstream-process.ts';

export type { RunningAgent, ReloadOutcome } from '../../src/cli/demo/agent-process.ts';
export type { LogLine, ExitStatus } from '../../src/cli/demo/managed-child.ts';
export type { SampleUpstream, UpstreamKind } from '../../src/cli/demo/sample-upstream-process.ts';

/** Starts a sample upstream (src/cli/demo/upstream-server.ts); rejects after 10 s with its stderr. */
export function startUpstream(options: { kind: UpstreamKind; id: string }): Promise<SampleUpstream> {
  return startSampleUpstream({ ...options, readyTimeoutMs: 10_000 });
}

/**
 * Writes the config (an object, serialized as YAML, or YAML text) to a temp file and runs
 * `node bin/meshlet.js agent -c FILE` until it logs `agent ready`.
 */
export function startAgent(config: object | string, options?: AgentProcessOptions): Promise<RunningAgent> {
  return startAgentProcess(config, options);
}

/** Whether a process with this PID is still running (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
