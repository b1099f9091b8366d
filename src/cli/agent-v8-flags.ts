// The V8 heap settings `meshlet agent` runs with. V8 reads them only when it creates the heap
// (v8.setFlagsFromString later does not resize the young generation), so they must be on node's
// command line: whoever starts the agent puts them there (agentNodeArgs), and bin/meshlet.js
// re-executes an agent started without them where node can (process.execve).
//
// Why these values (bench/README.md, "V8 settings", has the measurements): Node 24 sizes the
// young generation from the machine's memory, semi-spaces of 64 MiB here, and the bench's h2c
// and gRPC load filled them (RSS 260 MiB); a 2 MiB semi-space alone still let the old
// generation grow to 150+ MiB RSS, so Node 24 also gets a 256 MiB old-space limit, which makes
// V8 grow the old generation by its smallest factor. That costs major GCs (about 5x as many),
// which Node 24 can afford (it still needs less CPU per request than Node 20) but Node 20
// cannot. Node 20 keeps V8's collector helper threads: --single-threaded-gc cut h2c's p99 by a
// quarter in the pinned bench, but without concurrent marking the buffers of a bulk body were
// freed late, and a 100 MB upload grew the agent's RSS by 18-39 MiB instead of 7-11 (53 MiB in
// a CI run): memory a platform team sizes its limits by matters more than that tail. Node 24
// does not need an 8 MiB semi-space's headroom. The agent's live heap is about 10 MiB idle
// and under 30 MiB under that load: 256 MiB leaves room for far more connections before it is
// a limit.

const NODE_20_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
const NODE_22_PLUS_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--max-old-space-size=256'];

/** The agent's V8 flags for a node version ("v24.1.0"). */
export function agentV8FlagsFor(version: string): readonly string[] {
  return Number(/^v(\d+)/.exec(version)?.[1]) >= 22 ? NODE_22_PLUS_FLAGS : NODE_20_FLAGS;
}

/** The agent's V8 flags on the node running this code. */
export const AGENT_V8_FLAGS: readonly string[] = agentV8FlagsFor(process.version);

/** `--max_old_space_size=1` and `--max-old-space-size=1` are the same flag to node. */
function flagName(arg: string): string {
  return arg.split('=', 1)[0]!.replaceAll('_', '-');
}

/** The agent's flags that neither node's own arguments nor NODE_OPTIONS set: a value given there wins. */
export function missingAgentV8Flags(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(flagName));
  return AGENT_V8_FLAGS.filter((flag) => !given.has(flagName(flag)));
}

/**
 * node's arguments for running the agent from the repository root: the flags for that node's
 * version (this node's by default), then `bin/meshlet.js agent ARGS`.
 */
export function agentNodeArgs(args: readonly string[], nodeVersion = process.version): string[] {
  return [...agentV8FlagsFor(nodeVersion), 'bin/meshlet.js', 'agent', ...args];
}

type Execve = (file: string, args: readonly string[], env: NodeJS.ProcessEnv) => never;

/**
 * Where node has process.execve (22.15+, 24), replaces this process, PID and all, with one that
 * has the missing flags; returns false when none are missing or node cannot exec (Node 20), and
 * the agent runs on as it was started. Node 20 is not relaunched as a child: a supervising
 * parent would cost more memory (about 44 MiB) than its one flag saves, and a second PID for
 * systemd and Kubernetes to manage.
 */
export function relaunchWithAgentV8Flags(): boolean {
  const missing = missingAgentV8Flags(process.execArgv, process.env.NODE_OPTIONS);
  const execve = (process as unknown as { execve?: Execve }).execve;
  if (missing.length === 0 || !execve) return false;
  const args = [...missing, ...process.execArgv, ...process.argv.slice(1)];
  return execve(process.execPath, [process.execPath, ...args], process.env);
}
