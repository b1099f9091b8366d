// Every way of starting the agent ends with one agent process. The test helpers and the demo
// start it with the V8 heap settings for its node version (src/cli/agent-v8-flags.ts); a plain
// `node bin/meshlet.js agent` and the bin executed as `npx meshlet` runs it re-execute
// themselves with them where node has process.execve (22.15+, 24), in the same process, and a
// user's own value is kept. Node 20 cannot exec: there the agent runs as it was started.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_V8_FLAGS } from '../../src/cli/agent-v8-flags.ts';
import { ManagedChild } from '../../src/cli/demo/managed-child.ts';
import { repoRoot } from '../../src/cli/demo/repo-root.ts';
import { isAlive, startAgent } from '../helpers/processes.ts';

const config = {
  admin: { listen: '127.0.0.1:0' },
  upstreams: [{ name: 'catalog', protocol: 'http', listen: '127.0.0.1:0', endpoints: ['127.0.0.1:9'] }],
};

/** node's arguments of a running process, from /proc. */
function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

describe('the agent runs with its V8 heap settings', () => {
  let dir: string;
  let configPath: string;
  let child: ManagedChild | undefined;
  /** Agents seen in `agent ready` lines. */
  const agentPids: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshlet-v8-flags-'));
    configPath = join(dir, 'agent.yaml');
    await writeFile(configPath, stringify(config));
  });

  afterEach(async () => {
    for (const pid of agentPids.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await child?.stop('SIGKILL');
    child = undefined;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The agent's own PID, from its `agent ready` line, whichever process was spawned. */
  const readyAgentPid = async (spawned: ManagedChild): Promise<number> => {
    const pid = Number((await spawned.waitForLine((line) => line.msg === 'agent ready', 15_000)).pid);
    agentPids.push(pid);
    return pid;
  };

  it('when started by the test helpers and the demo', async () => {
    const agent = await startAgent(config);
    try {
      expect(commandLine(agent.pid)).toEqual(expect.arrayContaining([...AGENT_V8_FLAGS]));
    } finally {
      await agent.stop();
    }
  });

  const canExec = 'execve' in process;

  it('when started as `node bin/meshlet.js agent`: the same process, re-executed with them where node can', async () => {
    child = ManagedChild.spawnNode('agent', ['bin/meshlet.js', 'agent', '-c', configPath], { cwd: repoRoot });
    const agentPid = await readyAgentPid(child);
    expect(agentPid).toBe(child.pid);
    const args = commandLine(agentPid);
    expect(args).toEqual(expect.arrayContaining(['agent', '-c', configPath]));
    if (canExec) expect(args).toEqual(expect.arrayContaining([...AGENT_V8_FLAGS]));
    else expect(args.filter((arg) => arg.startsWith('--max-'))).toEqual([]);

    const from = child.lineCount;
    child.signal('SIGHUP');
    expect((await child.waitForLine((line) => line.msg === 'config applied', 10_000, from)).reason).toBe('SIGHUP');
  });

  it('when bin/meshlet.js is executed as npx meshlet runs it: the same process', async () => {
    child = new ManagedChild('agent', spawn(join(repoRoot, 'bin', 'meshlet.js'), ['agent', '-c', configPath], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    const agentPid = await readyAgentPid(child);
    expect(agentPid).toBe(child.pid);
    if (canExec) expect(commandLine(agentPid)).toEqual(expect.arrayContaining([...AGENT_V8_FLAGS]));
  });

  it('keeps a heap setting the user gave, adds only the missing ones where node can, and exits as the agent does', async () => {
    child = ManagedChild.spawnNode('agent', ['--max-old-space-size=512', 'bin/meshlet.js', 'agent', '-c', configPath], { cwd: repoRoot });
    const agentPid = await readyAgentPid(child);
    const args = commandLine(agentPid);
    expect(args).toContain('--max-old-space-size=512');
    expect(args.filter((arg) => arg.startsWith('--max-old-space-size'))).toHaveLength(1);
    if (canExec) expect(args).toContain(AGENT_V8_FLAGS.find((flag) => flag.startsWith('--max-semi-space-size')));

    expect(await child.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(child.lines().some((line) => line.msg === 'stopped')).toBe(true);
    expect(isAlive(agentPid)).toBe(false);
  });
});
