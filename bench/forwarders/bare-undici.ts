// The "bare Node" reference: the least an HTTP/1.1 forwarder can do on node:http + undici.
// One keep-alive Pool to the upstream; bodies stream both ways; no policy, no metrics.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'undici';

// Self-contained (node builtins and undici only) because the bench runs it compiled, as meshlet runs.
function portArg(name: string): number {
  const port = Number(process.argv[process.argv.indexOf(`--${name}`) + 1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`--${name} PORT is required`);
  return port;
}

// undici refuses connection-level headers; they describe the client's hop, not the upstream's.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function endToEnd(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
}

const pool = new Pool(`http://127.0.0.1:${portArg('upstream')}`, { connections: 256, keepAliveTimeout: 60_000 });

function forward(req: IncomingMessage, res: ServerResponse): void {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.stream(
    { path: req.url ?? '/', method: req.method as 'GET', headers: endToEnd(req.headers), body: hasBody ? req : null },
    ({ statusCode, headers }) => {
      res.writeHead(statusCode, endToEnd(headers));
      return res;
    },
  ).catch((error: Error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(error.message);
  });
}

const server = createServer(forward);
server.keepAliveTimeout = 120_000;
server.listen(portArg('listen'), '127.0.0.1');
