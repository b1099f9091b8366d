// Parses the config file off the main thread: zod and yaml load into this worker's isolate
// and leave with it, so the long-running agent never holds them (about 7 MiB of RSS).

import { parentPort, workerData } from 'node:worker_threads';
import { loadConfigFile } from '../config/load.ts';

const { path, env, hostname } = workerData as { path: string; env: Record<string, string | undefined>; hostname: string };
parentPort!.postMessage(await loadConfigFile(path, { env, hostname }));
