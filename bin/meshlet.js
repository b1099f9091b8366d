#!/usr/bin/env node
// Runs the compiled CLI. `npm ci` / `npm install` build dist/ (the "prepare" script) and the
// test suite rebuilds it first; plain compiled JS keeps the agent's start-up and memory lean.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('meshlet: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(1);
}
await import(entry.href);
