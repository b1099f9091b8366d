// Upstreams that break HTTP on purpose, run inside the test process on 127.0.0.1 port 0: a raw
// TCP server answering every HTTP/1.1 request with fixed bytes, and a raw HTTP/2 server that
// answers every request stream with fixed frames (node:http2 refuses to send malformed ones).
import net from 'node:net';

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

/** An HTTP/2 frame: 9-byte header, then the payload. */
export function h2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

/** An HPACK header block of literals without indexing (no Huffman), names and values under 128 bytes. */
export function hpackLiterals(fields: readonly (readonly [string, string])[]): Buffer {
  const text = (value: string): Buffer => {
    const bytes = Buffer.from(value, 'latin1');
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  };
  return Buffer.concat(fields.map(([name, value]) => Buffer.concat([Buffer.from([0]), text(name), text(value)])));
}

/**
 * A prior-knowledge h2c server that acknowledges SETTINGS and answers every HEADERS frame a
 * client opens a stream with by the frames `answer(streamId)` returns.
 */
export function rawHttp2Upstream(answer: (streamId: number) => Buffer[]): Promise<RawUpstream> {
  const server = net.createServer((socket) => {
    track(server, socket);
    let buffered = Buffer.alloc(0);
    let prefaceRead = false;
    socket.write(h2Frame(FRAME.SETTINGS, 0, 0));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!prefaceRead) {
        if (buffered.length < 24) return;
        buffered = buffered.subarray(24);
        prefaceRead = true;
      }
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) return;
        const type = buffered[3];
        const flags = buffered[4]!;
        const streamId = buffered.readUInt32BE(5) & 0x7fffffff;
        buffered = buffered.subarray(9 + length);
        if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0) socket.write(h2Frame(FRAME.SETTINGS, FLAG.ACK, 0));
        if (type === FRAME.HEADERS) for (const frame of answer(streamId)) socket.write(frame);
      }
    });
  });
  return listen(server);
}
