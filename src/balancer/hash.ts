// MurmurHash3, x86 32-bit variant (Austin Appleby, public domain), over the UTF-8 bytes of a
// string or over one 32-bit integer. ring_hash places its points and maglev its permutations
// with it, and both hash request keys with it, so a key lands on the same endpoint in every agent.
// The UTF-8 bytes are produced on the fly from the UTF-16 code units: hashing a key on the
// request path allocates nothing.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function scramble(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixBlock(h: number, k: number): number {
  h ^= scramble(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalize(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3_x86_32 of `text` encoded as UTF-8 (lone surrogates as U+FFFD, as TextEncoder does). */
export function murmurHash3(text: string, seed = 0): number {
  let h = seed | 0;
  let block = 0; // bytes of the current 4-byte block, little-endian
  let shift = 0; // where the next byte goes in `block`
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    // A code point's UTF-8 bytes, first byte lowest.
    let bytes: number;
    let count: number;
    if (code < 0x80) {
      bytes = code;
      count = 1;
    } else if (code < 0x800) {
      bytes = (0xc0 | (code >> 6)) | ((0x80 | (code & 0x3f)) << 8);
      count = 2;
    } else {
      if (code >= 0xd800 && code <= 0xdfff) {
        const low = code <= 0xdbff ? text.charCodeAt(i + 1) : NaN;
        if (low >= 0xdc00 && low <= 0xdfff) {
          const point = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          i++;
          bytes =
            (0xf0 | (point >> 18)) |
            ((0x80 | ((point >> 12) & 0x3f)) << 8) |
            ((0x80 | ((point >> 6) & 0x3f)) << 16) |
            ((0x80 | (point & 0x3f)) << 24);
          count = 4;
        } else {
          code = 0xfffd;
          bytes = (0xe0 | (code >> 12)) | ((0x80 | ((code >> 6) & 0x3f)) << 8) | ((0x80 | (code & 0x3f)) << 16);
          count = 3;
        }
      } else {
        bytes = (0xe0 | (code >> 12)) | ((0x80 | ((code >> 6) & 0x3f)) << 8) | ((0x80 | (code & 0x3f)) << 16);
        count = 3;
      }
    }
    length += count;
    for (let b = 0; b < count; b++) {
      block |= ((bytes >>> (b * 8)) & 0xff) << shift;
      shift += 8;
      if (shift === 32) {
        h = mixBlock(h, block);
        block = 0;
        shift = 0;
      }
    }
  }
  if (shift > 0) h ^= scramble(block);
  return finalize(h, length);
}

/** MurmurHash3_x86_32 of the 4 little-endian bytes of `value`: a ring point is this of its number, seeded by its endpoint's hash. */
export function murmurHash3Uint32(value: number, seed: number): number {
  return finalize(mixBlock(seed | 0, value | 0), 4);
}
