// One length-prefixed frame off a stream: a 4-byte big-endian length, then that many bytes.
// The announced length is checked against the limit before anything past the prefix is kept,
// and chunks are held as they arrive (not a buffer of the announced size), so a peer that
// announces 4 GiB and sends nothing costs nothing.

export const LENGTH_PREFIX_BYTES = 4;

/** A frame's bytes with its length prefix in front. */
export function lengthPrefixed(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, LENGTH_PREFIX_BYTES);
  return frame;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private received = 0;
  private length = -1;

  constructor(private readonly maxLength: number) {}

  /**
   * The whole frame once its last byte is in, 'oversize' as soon as the prefix announces more
   * than the limit, undefined while bytes are still due. Bytes past the frame are ignored.
   */
  push(chunk: Buffer): Buffer | 'oversize' | undefined {
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.length < 0) {
      if (this.received < LENGTH_PREFIX_BYTES) return undefined;
      const head = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.received);
      this.chunks = [head];
      this.length = head.readUInt32BE(0);
      if (this.length > this.maxLength) return 'oversize';
    }
    if (this.received < LENGTH_PREFIX_BYTES + this.length) return undefined;
    const whole = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
    return whole.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + this.length);
  }
}
