// Output of the operator commands: aligned tables for people (colour only on a terminal that
// wants it), JSON of documented, stable shapes for scripts.
import type { BreakerState } from '../control/control-proto.ts';

export type OutputFormat = 'text' | 'json';

export interface Style {
  readonly red: (text: string) => string;
  readonly yellow: (text: string) => string;
  readonly green: (text: string) => string;
  readonly bold: (text: string) => string;
}

const plain = (text: string): string => text;
const ansi = (code: number) => (text: string): string => `\x1b[${code}m${text}\x1b[0m`;

/** Colour on a terminal, never in a pipe or a file, nor with NO_COLOR set (no-color.org). */
export function styleFor(stream: NodeJS.WriteStream): Style {
  const colour = stream.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
  if (!colour) return { red: plain, yellow: plain, green: plain, bold: plain };
  return { red: ansi(31), yellow: ansi(33), green: ansi(32), bold: ansi(1) };
}

// Escape sequences take no columns; padding must not count them.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-9;]*m/g;

function visibleLength(text: string): number {
  return text.replace(ESCAPES, '').length;
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function formatRows(rows: readonly (readonly string[])[]): string {
  const columns = Math.max(0, ...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, column) => Math.max(...rows.map((row) => visibleLength(row[column] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - visibleLength(cell)))).join('  ').trimEnd();
  return rows.map(line).join('\n');
}

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return formatRows([headers, ...rows]);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The wire's enum name as people write it: BREAKER_STATE_HALF_OPEN → "half-open". */
export function breakerStateName(state: BreakerState): 'closed' | 'half-open' | 'open' {
  if (state === 'BREAKER_STATE_OPEN') return 'open';
  if (state === 'BREAKER_STATE_HALF_OPEN') return 'half-open';
  return 'closed';
}

export function styledBreakerState(state: BreakerState, style: Style): string {
  const name = breakerStateName(state);
  if (name === 'open') return style.red(name);
  if (name === 'half-open') return style.yellow(name);
  return style.green(name);
}

/** Epoch milliseconds as ISO text, or null for 0 (never). */
export function isoTime(ms: number): string | null {
  return ms > 0 ? new Date(ms).toISOString() : null;
}

/** "3s ago", "5m ago", "2h ago", "-" for never. */
export function formatAgo(ms: number, now: number): string {
  if (ms <= 0) return '-';
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** "s" after a count other than one. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
