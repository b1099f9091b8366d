// One instance of a service for the fault scenarios: an HTTP/1.1 server that answers after a
// fixed service time with the instance's name in `x-instance`, and a control port (not behind
// any proxy) that switches its fault mode and reports what it received. Modes:
//   ok           every request answered 200
//   half-errors  every second request answered 500
//   slow         100 ms added to the service time
//   fail         every request answered 503
//   reset        every connection, open or new, is accepted and destroyed at once
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { listen: { type: 'string' }, control: { type: 'string' }, name: { type: 'string' }, 'service-ms': { type: 'string', default: '2' } } });
const name = values.name ?? 'instance';
const serviceMs = Number(values['service-ms']);
const SLOW_EXTRA_MS = 100;
type Mode = 'ok' | 'half-errors' | 'slow' | 'fail' | 'reset';
const MODES: readonly Mode[] = ['ok', 'half-errors', 'slow', 'fail', 'reset'];

let mode: Mode = 'ok';
const stats = { requests: 0, accepts: 0, errors: 0 };
const sockets = new Set<Socket>();
const body = Buffer.from(`{"instance":"${name}"}`);

function answer(res: ServerResponse, status: number): void {
  if (status >= 500) stats.errors++;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, 'x-instance': name });
  res.end(body);
}

const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
  stats.requests++;
  req.resume();
  const n = stats.requests;
  const status = mode === 'fail' || (mode === 'half-errors' && n % 2 === 0) ? (mode === 'fail' ? 503 : 500) : 200;
  setTimeout(() => answer(res, status), serviceMs + (mode === 'slow' ? SLOW_EXTRA_MS : 0));
});
server.keepAliveTimeout = 60_000;
server.on('connection', (socket: Socket) => {
  stats.accepts++;
  if (mode === 'reset') {
    socket.destroy();
    return;
  }
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
});
server.listen(Number(values.listen), '127.0.0.1');

const control = createHttpServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://control');
  if (url.pathname === '/mode') {
    const next = url.searchParams.get('m') as Mode;
    if (!MODES.includes(next)) {
      res.writeHead(400).end(`mode must be one of ${MODES.join(', ')}`);
      return;
    }
    mode = next;
    if (mode === 'reset') for (const socket of sockets) socket.destroy();
    res.writeHead(204).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
});
control.listen(Number(values.control), '127.0.0.1');
