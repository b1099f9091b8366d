// HTTP/1.1 upstream: answers every request with the same 100-byte body, keep-alive.
import { createServer } from 'node:http';
import { RESPONSE_BODY } from '../lib/body.ts';
import { portArg } from '../lib/argv.ts';

const headers = { 'content-type': 'text/plain', 'content-length': String(RESPONSE_BODY.length) };

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(RESPONSE_BODY);
  });
});
server.keepAliveTimeout = 120_000;
server.listen(portArg('listen'), '127.0.0.1');
