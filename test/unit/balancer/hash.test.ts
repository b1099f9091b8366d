import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmurHash3, murmurHash3Uint32 } from '../../../src/balancer/hash.ts';

// Plain byte-at-a-time MurmurHash3_x86_32, written from the reference to check the streaming
// UTF-8 version against; itself checked on the byte-level published vectors below.
function referenceMurmur3(bytes: Uint8Array, seed: number): number {
  const mixK = (k: number): number => Math.imul(((Math.imul(k, 0xcc9e2d51) << 15) | (Math.imul(k, 0xcc9e2d51) >>> 17)), 0x1b873593);
  let h = seed | 0;
  const blocks = bytes.length >> 2;
  for (let i = 0; i < blocks; i++) {
    const k = bytes[4 * i]! | (bytes[4 * i + 1]! << 8) | (bytes[4 * i + 2]! << 16) | (bytes[4 * i + 3]! << 24);
    h ^= mixK(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let tail = 0;
  for (let i = bytes.length - 1; i >= blocks * 4; i--) tail = (tail << 8) | bytes[i]!;
  if ((bytes.length & 3) !== 0) h ^= mixK(tail);
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// Published MurmurHash3_x86_32 vectors (Ian Boyd's set, also used by Python's mmh3 tests).
const stringVectors: [string, number, number][] = [
  ['', 0, 0],
  ['', 1, 0x514e28b7],
  ['', 0xffffffff, 0x81f16f39],
  ['\0\0\0\0', 0, 0x2362f9de],
  ['\0\0\0', 0, 0x85f0b427],
  ['\0\0', 0, 0x30f4c306],
  ['\0', 0, 0x514e28b7],
  ['!Ce', 0, 0x7e4a8634],
  ['!C', 0, 0xa0f7b07a],
  ['!', 0, 0x72661cf4],
  ['aaaa', 0x9747b28c, 0x5a97808a],
  ['aaa', 0x9747b28c, 0x283e0130],
  ['aa', 0x9747b28c, 0x5d211726],
  ['a', 0x9747b28c, 0x7fa09ea6],
  ['abcd', 0x9747b28c, 0xf0478627],
  ['abc', 0x9747b28c, 0xc84a62dd],
  ['ab', 0x9747b28c, 0x74875592],
  ['Hello, world!', 0x9747b28c, 0x24884cba],
  ['Hello, world!', 1234, 0xfaf6cdb3],
  ['Hello, world!', 4321, 0xbf505788],
  ['ππππππππ', 0x9747b28c, 0xd58063c1],
  ['a'.repeat(256), 0x9747b28c, 0x37405bdc],
  ['abc', 0, 0xb3dd93fa],
  ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', 0, 0xee925b90],
  ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
];

const byteVectors: [number[], number, number][] = [
  [[0xff, 0xff, 0xff, 0xff], 0, 0x76293b50],
  [[0x21, 0x43, 0x65, 0x87], 0, 0xf55b516b],
  [[0x21, 0x43, 0x65, 0x87], 0x5082edee, 0x2362f9de],
];

describe('murmurHash3', () => {
  it.each(stringVectors)('hashes %j with seed %i to the published value', (text, seed, expected) => {
    expect(murmurHash3(text, seed).toString(16)).toBe(expected.toString(16));
  });

  it('the reference it is compared with matches the published vectors too', () => {
    for (const [bytes, seed, expected] of byteVectors) {
      expect(referenceMurmur3(Uint8Array.from(bytes), seed)).toBe(expected);
    }
    for (const [text, seed, expected] of stringVectors) {
      expect(referenceMurmur3(new TextEncoder().encode(text), seed)).toBe(expected);
    }
  });

  it('hashes the UTF-8 bytes of any string, lone surrogates included, as TextEncoder encodes them', () => {
    // Code points of every UTF-8 length, and lone UTF-16 surrogates.
    const unit = fc.oneof(
      fc.integer({ min: 0, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0x7ff }),
      fc.integer({ min: 0x800, max: 0xffff }),
      fc.integer({ min: 0x10000, max: 0x10ffff }),
    ).map((point) => (point >= 0xd800 && point <= 0xdfff ? String.fromCharCode(point) : String.fromCodePoint(point)));
    const text = fc.string({ unit, maxLength: 40 });
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 0xffffffff }), (s, seed) => {
        expect(murmurHash3(s, seed)).toBe(referenceMurmur3(new TextEncoder().encode(s), seed));
      }),
      { numRuns: 200 },
    );
  });

  it('hashes a 32-bit integer as its 4 little-endian bytes', () => {
    expect(murmurHash3Uint32(0x87654321, 0)).toBe(0xf55b516b);
    expect(murmurHash3Uint32(0x87654321, 0x5082edee)).toBe(0x2362f9de);
    expect(murmurHash3Uint32(0xffffffff, 0)).toBe(0x76293b50);
    expect(murmurHash3Uint32(0, 0)).toBe(0x2362f9de);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (value, seed) => {
        const bytes = new Uint8Array(new Uint32Array([value]).buffer);
        expect(murmurHash3Uint32(value, seed)).toBe(referenceMurmur3(bytes, seed));
      }),
    );
  });
});
