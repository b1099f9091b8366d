// Reads and validates the config file the way every command does: process env, host name.

import os from 'node:os';
import { loadConfigFile } from '../config/load.ts';
import type { LoadResult } from '../config/types.ts';

export function readConfig(path: string): Promise<LoadResult> {
  return loadConfigFile(path, { env: process.env, hostname: os.hostname() });
}
