import { parseArgs } from 'node:util';

// The bench's helper processes take `--listen PORT` and, for forwarders, `--upstream PORT`;
// everything is on 127.0.0.1.
export function portArg(name: string): number {
  const { values } = parseArgs({ options: { [name]: { type: 'string' } }, strict: false });
  const raw = values[name];
  const port = typeof raw === 'string' ? Number(raw) : NaN;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`--${name} PORT is required (got ${String(raw)})`);
  }
  return port;
}
