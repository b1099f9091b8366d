// Durations as users write them — "250ms", "2s", "1m30s", or a bare number of milliseconds —
// turned into milliseconds once, at config time. Units must go from largest to smallest, each
// at most once, so a duration reads one way only ("1m30s", never "30s1m").

export type DurationResult =
  | { readonly ok: true; readonly ms: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Node's timers store the delay in 32 bits: a longer one fires at once (with only a warning),
 * so a config duration may not exceed it.
 */
export const MAX_DURATION_MS = 2_147_483_647;

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const UNIT_RANK: Readonly<Record<string, number>> = { h: 0, m: 1, s: 2, ms: 3 };
const BARE_NUMBER = /^\d+(?:\.\d+)?$/;
const PART = /^(\d+(?:\.\d+)?)([A-Za-zµ]*)/;
const EXAMPLES = 'such as 250ms, 2s or 1m30s';

export function parseDuration(input: string | number): DurationResult {
  if (typeof input === 'number') return fromMilliseconds(input, String(input));
  const text = input.trim();
  if (text === '') return fail(`expected a duration ${EXAMPLES}, got an empty string`);
  if (text.startsWith('-')) return fail(`must not be negative, got "${input}"`);
  if (BARE_NUMBER.test(text)) return fromMilliseconds(Number(text), text);

  let total = 0;
  let previousRank = -1;
  for (let rest = text; rest !== ''; ) {
    const part = PART.exec(rest);
    if (!part) return fail(`expected a duration ${EXAMPLES}, got "${input}"`);
    const [whole, amount = '', unit = ''] = part;
    if (unit === '' && whole !== rest) return fail(`expected a duration ${EXAMPLES}, got "${input}"`);
    if (unit === '') return fail(`missing a unit after ${amount} in "${input}"; use ms, s, m or h`);
    const unitMs = UNIT_MS[unit];
    const rank = UNIT_RANK[unit];
    if (unitMs === undefined || rank === undefined) {
      return fail(`unknown unit "${unit}" in "${input}"; use ms, s, m or h`);
    }
    if (rank <= previousRank) {
      return fail(`units in "${input}" must go from largest to smallest, each once, as in 1h30m or 1m30s`);
    }
    previousRank = rank;
    total += Number(amount) * unitMs;
    rest = rest.slice(whole.length);
  }
  return fromMilliseconds(total, `"${input}"`);
}

/** Formats milliseconds the way parseDuration reads them, for messages: 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  let rest = ms;
  let text = '';
  for (const unit of ['h', 'm', 's'] as const) {
    const unitMs = UNIT_MS[unit] ?? 1;
    const count = Math.floor(rest / unitMs);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * unitMs;
  }
  return rest > 0 ? `${text}${roundToMicros(rest)}ms` : text;
}

function fromMilliseconds(ms: number, written: string): DurationResult {
  if (!Number.isFinite(ms)) return fail(`expected a duration ${EXAMPLES}, got ${written}`);
  if (ms < 0) return fail(`must not be negative, got ${written}`);
  if (ms > MAX_DURATION_MS) {
    return fail(`must be at most ${formatDuration(MAX_DURATION_MS)} (about 24.8 days, the longest a Node timer can wait), got ${written}`);
  }
  return { ok: true, ms: roundToMicros(ms) };
}

// 1.1 * 1000 is 1100.0000000000002 in floating point; nothing in the agent is finer than 1µs.
function roundToMicros(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function fail(reason: string): DurationResult {
  return { ok: false, reason };
}
