// Parses a config away from the agent's heap, in one of two ways:
//   - as a child process (forked for one load, then gone): zod and yaml load into its heap and
//     leave with it, so an agent that loads its config only at start and on SIGHUP never holds
//     them, nor the pages a heap would leave behind;
//   - as a worker thread kept warm for the agent's life (config-source.ts keepConfigWorkerWarm),
//     for an agent whose control plane may push a snapshot at any moment.
// Either way the agent's event loop never waits for a parse, and a config that exhausts the
// loader's heap fails that load, not the agent.

import { parentPort } from 'node:worker_threads';
import { readConfigText } from '../config/load.ts';
import { parseConfigWithPolicy } from '../control/effective-config.ts';
import type { ConfigRequest, ConfigResponse, ThreadRequest, ThreadResponse } from './config-source.ts';

const WARM_UP_CONFIG = 'upstreams:\n  - name: warm-up\n    endpoints: [127.0.0.1:1]\n    policy: { retry: { attempts: 2 }, circuitBreaker: {}, outlierDetection: {}, lb: { algorithm: round_robin } }\n';

/** zod compiles a schema on its first use: a loader that waits does that first. */
function warmUp(): void {
  parseConfigWithPolicy(WARM_UP_CONFIG, '{"defaults":{"timeout":"1s"}}', { env: {}, hostname: 'warm-up' });
}

async function respond({ source, policy, env, hostname }: ConfigRequest): Promise<ConfigResponse> {
  const read = 'text' in source ? { ok: true as const, text: source.text } : await readConfigText(source.path);
  if (!read.ok) return { result: read };
  return { result: parseConfigWithPolicy(read.text, policy, { env, hostname }), text: read.text };
}

const port = parentPort;
if (port !== null) {
  warmUp();
  port.on('message', (message: ThreadRequest) => {
    void respond(message.request).then((response) => port.postMessage({ id: message.id, response } satisfies ThreadResponse));
  });
} else {
  // A forked loader may outlive a request's wait only as long as the agent that forked it.
  process.once('disconnect', () => process.exit(0));
  process.once('message', (message) => {
    void respond(message as ConfigRequest).then((response) => {
      process.send!(response, () => process.disconnect());
    });
  });
}
