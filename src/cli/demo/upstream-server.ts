// A sample upstream as its own process, for `meshlet demo` and the integration tests:
//   node dist/cli/demo/upstream-server.js --kind http1|h2c|grpc --id NAME --port 0 [--host 127.0.0.1]
// Prints one line {"ready":true,"id":...,"port":N} once listening; exits 0 on SIGTERM.
import { parseArgs } from 'node:util';
import { listenHttp1Upstream } from './http1-upstream.ts';
import { listenH2cUpstream } from './h2c-upstream.ts';
import { listenGrpcUpstream } from './grpc-upstream.ts';
import { isUpstreamKind, type UpstreamKind } from './sample-upstream-process.ts';

const listeners: Record<UpstreamKind, (id: string, host: string, port: number) => Promise<number>> = {
  http1: listenHttp1Upstream,
  h2c: listenH2cUpstream,
  grpc: listenGrpcUpstream,
};

const { values } = parseArgs({
  options: {
    kind: { type: 'string' },
    id: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const kind = values.kind ?? '';
const port = Number(values.port);
if (!isUpstreamKind(kind) || !values.id || !Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: upstream-server.ts --kind http1|h2c|grpc --id NAME [--port 0] [--host 127.0.0.1]\n');
  process.exit(2);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));

const bound = await listeners[kind](values.id, values.host, port);
process.stdout.write(`${JSON.stringify({ ready: true, id: values.id, port: bound })}\n`);
