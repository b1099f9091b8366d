// Raw HTTP/2 frames for tests that must send what node:http2 refuses to: malformed header
// blocks, from a server or a client.
import net from 'node:net';

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

/** A 'data' listener that cuts the byte stream into frames; answers SETTINGS with its ACK, as a peer must. */
export function frameReader(socket: net.Socket, onFrame: (type: number, flags: number, streamId: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) return;
      const type = buffered[3]!;
      const flags = buffered[4]!;
      const streamId = buffered.readUInt32BE(5) & 0x7fffffff;
      const payload = buffered.subarray(9, 9 + length);
      buffered = buffered.subarray(9 + length);
      if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0) socket.write(h2Frame(FRAME.SETTINGS, FLAG.ACK, 0));
      onFrame(type, flags, streamId, payload);
    }
  };
}

const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** What a raw h2c client read back per stream: whether a response began, and any RST_STREAM code. */
export interface RawStreamOutcome {
  readonly responded: boolean;
  readonly rstCode: number | undefined;
}

/**
 * Opens an h2c connection, sends each header block as a request on streams 1, 3, 5, … (in
 * order, each once the one before has been answered or reset), then ends the connection.
 */
export function rawH2Requests(host: string, port: number, blocks: readonly Buffer[], timeoutMs = 5_000): Promise<RawStreamOutcome[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const outcomes: { responded: boolean; rstCode: number | undefined }[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to every stream within ${timeoutMs} ms: ${JSON.stringify(outcomes)}`));
    }, timeoutMs);
    const sendNext = (): void => {
      const index = outcomes.length;
      if (index === blocks.length) {
        clearTimeout(timer);
        socket.end(() => resolve(outcomes));
        return;
      }
      outcomes.push({ responded: false, rstCode: undefined });
      socket.write(h2Frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 2 * index + 1, blocks[index]));
    };
    socket.on('error', () => undefined);
    socket.on('data', frameReader(socket, (type, flags, streamId, payload) => {
      const outcome = outcomes[(streamId - 1) / 2];
      if (!outcome || streamId !== 2 * outcomes.length - 1) return;
      if (type === FRAME.HEADERS) outcome.responded = true;
      if (type === FRAME.RST_STREAM) outcome.rstCode = payload.readUInt32BE(0);
      if (type === FRAME.RST_STREAM || ((type === FRAME.HEADERS || type === FRAME.DATA) && (flags & FLAG.END_STREAM) !== 0)) sendNext();
    }));
    socket.write(Buffer.concat([CLIENT_PREFACE, h2Frame(FRAME.SETTINGS, 0, 0)]), sendNext);
  });
}
