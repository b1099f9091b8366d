// Byte sizes as users write them — "256KiB", "1MiB", "64KB", or a bare number of bytes —
// turned into a whole number of bytes once, at config time.

export type ByteSizeResult =
  | { readonly ok: true; readonly bytes: number }
  | { readonly ok: false; readonly reason: string };

const UNIT_BYTES: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/;
const EXAMPLES = 'such as 64KiB, 1MiB or 65536';

export function parseByteSize(input: string | number): ByteSizeResult {
  if (typeof input === 'number') return fromBytes(input, String(input));
  const text = input.trim();
  if (text.startsWith('-')) return fail(`must not be negative, got "${input}"`);
  const match = SIZE.exec(text);
  if (!match) return fail(`expected a size ${EXAMPLES}, got ${text === '' ? 'an empty string' : `"${input}"`}`);
  const [, amount = '', unit = ''] = match;
  const unitBytes = unit === '' ? 1 : UNIT_BYTES[unit];
  if (unitBytes === undefined) return fail(`unknown unit "${unit}" in "${input}"; use B, KiB, MiB, GiB, KB, MB or GB`);
  return fromBytes(Number(amount) * unitBytes, `"${input}"`);
}

/** Formats bytes the way parseByteSize reads them, for messages: 262144 → "256KiB". */
export function formatByteSize(bytes: number): string {
  for (const unit of ['GiB', 'MiB', 'KiB'] as const) {
    const unitBytes = UNIT_BYTES[unit] ?? 1;
    if (bytes >= unitBytes && bytes % unitBytes === 0) return `${bytes / unitBytes}${unit}`;
  }
  return `${bytes}B`;
}

function fromBytes(bytes: number, written: string): ByteSizeResult {
  if (!Number.isFinite(bytes)) return fail(`expected a size ${EXAMPLES}, got ${written}`);
  if (bytes < 0) return fail(`must not be negative, got ${written}`);
  if (!Number.isInteger(bytes)) return fail(`must be a whole number of bytes, got ${written}`);
  return { ok: true, bytes };
}

function fail(reason: string): ByteSizeResult {
  return { ok: false, reason };
}
