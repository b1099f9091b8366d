#!/usr/bin/env node
// Runs the compiled CLI. `npm ci` / `npm install` build dist/ (the "prepare" script) and the
// test suite rebuilds it first; plain compiled JS keeps the agent's start-up and memory lean.
// `meshlet agent` started without the agent's V8 flags (src/cli/agent-v8-flags.ts) re-executes itself
// with them where node can exec (22.15+, 24); they depend on the node version, so a shebang
// cannot carry them. An agent whose options parse runs without the rest of the command line
// (src/cli/agent-options.ts says why); everything else goes through commander in main.js.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/', import.meta.url);
if (!existsSync(new URL('main.js', dist))) {
  process.stderr.write('meshlet: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(1);
}
let agent;
if (process.argv[2] === 'agent') {
  // Returns only where it did not re-execute.
  (await import(new URL('agent-v8-flags.js', dist).href)).relaunchWithAgentV8Flags();
  agent = (await import(new URL('agent-options.js', dist).href)).parseAgentArgs(process.argv.slice(3));
}
if (agent) {
  const { runAgent } = await import(new URL('agent-command.js', dist).href);
  process.exitCode = await runAgent(agent.config, agent);
} else {
  await import(new URL('main.js', dist).href);
}
