import { describe, expect, it } from 'vitest';
import { formatByteSize, parseByteSize } from '../../../src/config/byte-size.ts';

describe('parseByteSize', () => {
  it.each([
    ['256KiB', 262_144],
    ['1MiB', 1_048_576],
    ['2GiB', 2_147_483_648],
    ['64KB', 64_000],
    ['1.5MiB', 1_572_864],
    ['65535', 65_535],
    ['100B', 100],
    [' 16 KiB ', 16_384],
    [4096, 4096],
  ] as const)('reads %j as %d bytes', (input, bytes) => {
    expect(parseByteSize(input)).toEqual({ ok: true, bytes });
  });

  it.each([
    ['', 'expected a size such as 64KiB, 1MiB or 65536, got an empty string'],
    ['big', 'expected a size such as 64KiB, 1MiB or 65536, got "big"'],
    ['1TB', 'unknown unit "TB" in "1TB"; use B, KiB, MiB, GiB, KB, MB or GB'],
    ['1kib', 'unknown unit "kib" in "1kib"; use B, KiB, MiB, GiB, KB, MB or GB'],
    ['-1KiB', 'must not be negative, got "-1KiB"'],
    ['1.5B', 'must be a whole number of bytes, got "1.5B"'],
  ])('refuses %j: %s', (input, reason) => {
    expect(parseByteSize(input)).toEqual({ ok: false, reason });
  });

  it('formats sizes the way it reads them', () => {
    expect([262_144, 1_048_576, 16_384 * 1024, 1000].map(formatByteSize)).toEqual(['256KiB', '1MiB', '16MiB', '1000B']);
  });
});
