// Upstreams that break HTTP on purpose, run inside the test process on 127.0.0.1 port 0: a raw
// TCP server answering every HTTP/1.1 request with fixed bytes, and a raw HTTP/2 server that
// answers every request stream with fixed frames (node:http2 refuses to send malformed ones).
import net from 'node:net';
import { FRAME, frameReader, h2Frame } from './h2-frames.ts';

export interface RawUpstream {
  readonly address: string;
  close(): Promise<void>;
}

function listen(server: net.Server): Promise<RawUpstream> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        address: `127.0.0.1:${port}`,
        close: () => new Promise((done) => {
          server.close(() => done());
          server.emit('closeAll');
        }),
      });
    });
  });
}

function track(server: net.Server, socket: net.Socket): void {
  socket.on('error', () => undefined);
  const destroy = (): void => {
    socket.destroy();
  };
  server.once('closeAll', destroy);
  socket.once('close', () => server.removeListener('closeAll', destroy));
}

/**
 * Answers each HTTP/1.1 request head with `answer(path)`; closes the connection after it when
 * `close` says so (a short body is only detectable once the connection ends).
 */
export function rawHttp1Upstream(answer: (path: string) => { bytes: string; close: boolean }): Promise<RawUpstream> {
  const server = net.createServer((socket) => {
    track(server, socket);
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      let end: number;
      while ((end = seen.indexOf('\r\n\r\n')) >= 0) {
        const path = seen.slice(0, seen.indexOf('\r\n')).split(' ')[1] ?? '/';
        seen = seen.slice(end + 4);
        const { bytes, close } = answer(path);
        if (close) socket.end(bytes);
        else socket.write(bytes);
      }
    });
  });
  return listen(server);
}

/**
 * A prior-knowledge h2c server that acknowledges SETTINGS and answers every HEADERS frame a
 * client opens a stream with by the frames `answer(streamId)` returns.
 */
export function rawHttp2Upstream(answer: (streamId: number) => Buffer[]): Promise<RawUpstream> {
  const server = net.createServer((socket) => {
    track(server, socket);
    /** The client preface's 24 bytes, not yet read. */
    let prefaceLeft = 24;
    const onFrames = frameReader(socket, (type, _flags, streamId) => {
      if (type === FRAME.HEADERS) for (const frame of answer(streamId)) socket.write(frame);
    });
    socket.write(h2Frame(FRAME.SETTINGS, 0, 0));
    socket.on('data', (chunk: Buffer) => {
      const skipped = Math.min(prefaceLeft, chunk.length);
      prefaceLeft -= skipped;
      onFrames(chunk.subarray(skipped));
    });
  });
  return listen(server);
}
