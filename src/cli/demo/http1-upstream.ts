// The HTTP/1.1 sample upstream: the steering of upstream-behaviour.ts over node:http.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  UpstreamStats, carriesBody, countBytes, delay, describeRequest, ignoreError, partialChunk,
  readSteering, statsPath, type Steering,
} from './upstream-behaviour.ts';

/** Starts listening; resolves with the bound port. */
export async function listenHttp1Upstream(instance: string, host: string, port: number): Promise<number> {
  const stats = new UpstreamStats(instance);
  const server = createServer((req, res) => {
    // A client gone mid-body makes reading it throw: that ends one response, not the server.
    respond(req, res, stats).catch(ignoreError);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return (server.address() as AddressInfo).port;
}

async function respond(req: IncomingMessage, res: ServerResponse, stats: UpstreamStats): Promise<void> {
  req.on('error', ignoreError);
  res.on('error', ignoreError);
  res.setHeader('x-instance', stats.instance);
  const method = req.method ?? 'GET';
  const path = req.url ?? '/';
  if (path === statsPath) {
    sendJson(res, JSON.stringify(stats));
    return;
  }
  stats.requests++;
  const steering = readSteering(req.headers);
  let resetByUs = false;
  res.on('close', () => {
    if (!res.writableEnded && !resetByUs) stats.aborted++;
  });

  await delay(steering.delayMs);
  if (res.destroyed) return;
  res.statusCode = steering.status;
  if (steering.trailer) res.setHeader('trailer', steering.trailer.name);

  if (steering.reset) {
    resetByUs = true;
    res.flushHeaders();
    res.write(partialChunk, () => req.socket.destroy());
  } else if (steering.streamEveryMs > 0) {
    req.resume();
    streamUntilClosed(res, steering.streamEveryMs);
  } else if (steering.countBody) {
    const bytes = await countBytes(req);
    finish(res, steering, JSON.stringify({ instance: stats.instance, bytes }), 'application/json');
  } else if (carriesBody(method)) {
    res.setHeader('content-type', req.headers['content-type'] ?? 'application/octet-stream');
    req.pipe(res, { end: false });
    req.once('end', () => finish(res, steering));
  } else {
    finish(res, steering, describeRequest(stats.instance, method, path, req.headers), 'application/json');
  }
}

function streamUntilClosed(res: ServerResponse, everyMs: number): void {
  res.setHeader('content-type', 'text/plain');
  res.write(partialChunk);
  let sent = 0;
  const timer = setInterval(() => res.write(`chunk ${++sent}\n`), everyMs);
  res.once('close', () => clearInterval(timer));
}

function finish(res: ServerResponse, steering: Steering, body?: string, contentType?: string): void {
  if (contentType) res.setHeader('content-type', contentType);
  if (steering.trailer) {
    // Trailers need chunked framing, so no content-length is set here.
    if (body !== undefined) res.write(body);
    res.addTrailers({ [steering.trailer.name]: steering.trailer.value });
    res.end();
  } else {
    res.end(body);
  }
}

function sendJson(res: ServerResponse, body: string): void {
  res.setHeader('content-type', 'application/json');
  res.end(body);
}
