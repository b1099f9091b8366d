#!/usr/bin/env node
// Runs the compiled CLI. `npm ci` / `npm install` build dist/ (the "prepare" script) and the
// test suite rebuilds it first; plain compiled JS keeps the agent's start-up and memory lean.
// `meshlet agent` started without the agent's V8 flags (src/cli/agent-v8-flags.ts) re-executes itself
// with them where node can exec (22.15+, 24); they depend on the node version, so a shebang
// cannot carry them.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/', import.meta.url);
if (!existsSync(new URL('main.js', dist))) {
  process.stderr.write('meshlet: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(1);
}
const relaunched = process.argv[2] === 'agent'
  && (await import(new URL('agent-v8-flags.js', dist).href)).relaunchWithAgentV8Flags();
if (!relaunched) await import(new URL('main.js', dist).href);
