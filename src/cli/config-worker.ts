// Parses a config in a child process: zod and yaml load into its heap and leave with it, so
// the long-running agent never holds them, nor the pages a worker's heap would leave behind.

import { readConfigText } from '../config/load.ts';
import { parseConfigWithPolicy } from '../control/effective-config.ts';
import type { ConfigRequest, ConfigResponse } from './config-source.ts';

const WARM_UP_CONFIG = 'upstreams:\n  - name: warm-up\n    endpoints: [127.0.0.1:1]\n    policy: { retry: { attempts: 2 }, circuitBreaker: {}, outlierDetection: {}, lb: { algorithm: round_robin } }\n';

// Forked ahead of need (config-source.ts keepConfigWorkerWarm), it may outlive a request's
// wait only as long as the agent that forked it.
process.once('disconnect', () => process.exit(0));
// zod compiles a schema on its first use: a worker that waits does that first.
if (process.argv.includes('--warm')) parseConfigWithPolicy(WARM_UP_CONFIG, '{"defaults":{"timeout":"1s"}}', { env: {}, hostname: 'warm-up' });

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
