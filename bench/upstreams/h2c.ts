// h2c upstream (HTTP/2 with prior knowledge): answers every stream with the same 100-byte body.
import { createServer, type ServerHttp2Stream } from 'node:http2';
import { RESPONSE_BODY } from '../lib/body.ts';
import { portArg } from '../lib/argv.ts';

const headers = { ':status': 200, 'content-type': 'text/plain', 'content-length': String(RESPONSE_BODY.length) };

function answer(this: ServerHttp2Stream): void {
  if (!this.destroyed) {
    this.respond(headers);
    this.end(RESPONSE_BODY);
  }
}

const server = createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', (stream) => {
  stream.on('error', () => stream.destroy());
  stream.resume();
  stream.once('end', answer);
});
server.listen(portArg('listen'), '127.0.0.1');
