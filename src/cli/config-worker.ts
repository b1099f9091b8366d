// Parses a config in a child process: zod and yaml load into its heap and leave with it, so
// the long-running agent never holds them, nor the pages a worker's heap would leave behind.

import { readConfigText } from '../config/load.ts';
import { parseConfigWithPolicy } from '../control/effective-config.ts';
import type { ConfigRequest, ConfigResponse } from './config-source.ts';

process.once('message', (message) => {
  const { source, policy, env, hostname } = message as ConfigRequest;
  void respond(source, policy, { env, hostname }).then((response) => {
    process.send!(response, () => process.disconnect());
  });
});

async function respond(source: ConfigRequest['source'], policy: string | undefined, options: { env: ConfigRequest['env']; hostname: string }): Promise<ConfigResponse> {
  const read = 'text' in source ? { ok: true as const, text: source.text } : await readConfigText(source.path);
  if (!read.ok) return { result: read };
  return { result: parseConfigWithPolicy(read.text, policy, options), text: read.text };
}
