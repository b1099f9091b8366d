import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
/** The bench's own files under node_modules/.cache, where git, tsc, eslint and vitest do not look. */
export const BENCH_CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'meshlet-bench');
/** Detached worktrees of `--against` commits, one folder per commit, kept for the next run. */
export const BASELINES_DIR = join(BENCH_CACHE_DIR, 'baselines');
