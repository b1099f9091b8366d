// The "naive HTTP/2" reference: an h2c server forwarding every stream over one client session
// to the upstream, piping bodies both ways and passing trailers through for gRPC.
import { connect, createServer, constants, type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';

// Self-contained (node builtins and undici only) because the bench runs it compiled, as meshlet runs.
function portArg(name: string): number {
  const port = Number(process.argv[process.argv.indexOf(`--${name}`) + 1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`--${name} PORT is required`);
  return port;
}

const upstreamUrl = `http://127.0.0.1:${portArg('upstream')}`;
let session: ClientHttp2Session | undefined;

function upstream(): ClientHttp2Session {
  if (!session || session.closed || session.destroyed) {
    const fresh = connect(upstreamUrl);
    fresh.on('error', () => fresh.destroy());
    fresh.on('close', () => { if (session === fresh) session = undefined; });
    session = fresh;
  }
  return session;
}

function forward(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const upstreamReq = upstream().request(headers);
  const grpc = headers['content-type']?.startsWith('application/grpc') === true;
  let trailers: IncomingHttpHeaders = {};
  upstreamReq.on('response', (responseHeaders) => {
    if (!stream.destroyed) stream.respond(responseHeaders, { waitForTrailers: grpc });
  });
  upstreamReq.on('trailers', (received) => { trailers = received; });
  stream.on('wantTrailers', () => stream.sendTrailers(trailers));
  upstreamReq.on('error', () => {
    if (!stream.headersSent && !stream.destroyed) stream.respond({ ':status': 502 }, { endStream: true });
    else stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  });
  stream.on('error', () => upstreamReq.close(constants.NGHTTP2_CANCEL));
  stream.pipe(upstreamReq);
  upstreamReq.pipe(stream);
}

const server = createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', forward);
server.listen(portArg('listen'), '127.0.0.1');
