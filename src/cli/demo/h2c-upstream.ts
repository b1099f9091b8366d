// The h2c sample upstream (HTTP/2 over cleartext, prior knowledge): the steering of
// upstream-behaviour.ts over node:http2's stream API, trailers via waitForTrailers.
import {
  createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import {
  UpstreamStats, carriesBody, countBytes, delay, describeRequest, ignoreError, partialChunk,
  readSteering, statsPath,
} from './upstream-behaviour.ts';

// Destroying with an error makes node send RST_STREAM(INTERNAL_ERROR) without END_STREAM first,
// which stream.close() would send.
const resetAsAsked = new Error('reset as asked by x-reset');

/** Starts listening; resolves with the bound port. */
export async function listenH2cUpstream(instance: string, host: string, port: number): Promise<number> {
  const stats = new UpstreamStats(instance);
  const server = createServer();
  server.on('stream', (stream, headers) => {
    // A client gone mid-body makes reading it throw: that ends one response, not the server.
    respond(stream, headers, stats).catch(ignoreError);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return (server.address() as AddressInfo).port;
}

async function respond(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, stats: UpstreamStats): Promise<void> {
  stream.on('error', ignoreError);
  const method = headers[':method'] ?? 'GET';
  const path = headers[':path'] ?? '/';
  if (path === statsPath) {
    stream.respond({ ':status': 200, 'x-instance': stats.instance, 'content-type': 'application/json' });
    stream.end(JSON.stringify(stats));
    return;
  }
  stats.requests++;
  const steering = readSteering(headers);
  let resetByUs = false;
  // 'aborted': the peer reset the stream before this side ended its response.
  stream.on('aborted', () => {
    if (!resetByUs) stats.aborted++;
  });

  await delay(steering.delayMs);
  if (stream.destroyed) return;
  const response: OutgoingHttpHeaders = { ':status': steering.status, 'x-instance': stats.instance };
  const trailer = steering.trailer;
  if (trailer) {
    stream.once('wantTrailers', () => stream.sendTrailers({ [trailer.name]: trailer.value }));
  }
  const options = { waitForTrailers: trailer !== undefined };

  if (steering.reset) {
    resetByUs = true;
    stream.resume();
    stream.respond(response);
    stream.write(partialChunk, () => stream.destroy(resetAsAsked));
  } else if (steering.streamEveryMs > 0) {
    stream.resume();
    stream.respond({ ...response, 'content-type': 'text/plain' });
    streamUntilClosed(stream, steering.streamEveryMs);
  } else if (steering.countBody) {
    const bytes = await countBytes(stream);
    stream.respond({ ...response, 'content-type': 'application/json' }, options);
    stream.end(JSON.stringify({ instance: stats.instance, bytes }));
  } else if (carriesBody(method)) {
    stream.respond({ ...response, 'content-type': headers['content-type'] ?? 'application/octet-stream' }, options);
    stream.pipe(stream);
  } else {
    stream.resume();
    stream.respond({ ...response, 'content-type': 'application/json' }, options);
    stream.end(describeRequest(stats.instance, method, path, headers));
  }
}

function streamUntilClosed(stream: ServerHttp2Stream, everyMs: number): void {
  stream.write(partialChunk);
  let sent = 0;
  const timer = setInterval(() => stream.write(`chunk ${++sent}\n`), everyMs);
  stream.once('close', () => clearInterval(timer));
}
