// What an apply changes, one line per changed field, as a dry run and the CLI show it:
//   + upstreams.payments.timeout: 2s          (added)
//   - upstreams.payments.retry.attempts: 3    (removed)
//   ~ defaults.lb.algorithm: round_robin → maglev
// Objects are walked to their leaves; an array or an empty object is one value.

/** A diff lists at most this many lines; the last one says how many more there were. */
export const MAX_DIFF_LINES = 1000;

export function policyDiff(before: unknown, after: unknown): string[] {
  const old = new Map<string, unknown>();
  const next = new Map<string, unknown>();
  flatten(before, '', old);
  flatten(after, '', next);
  const lines: string[] = [];
  for (const path of [...new Set([...old.keys(), ...next.keys()])].sort()) {
    const a = old.get(path);
    const b = next.get(path);
    if (!old.has(path)) lines.push(`+ ${path}: ${show(b)}`);
    else if (!next.has(path)) lines.push(`- ${path}: ${show(a)}`);
    else if (JSON.stringify(a) !== JSON.stringify(b)) lines.push(`~ ${path}: ${show(a)} → ${show(b)}`);
  }
  if (lines.length <= MAX_DIFF_LINES) return lines;
  const more = lines.length - (MAX_DIFF_LINES - 1);
  return [...lines.slice(0, MAX_DIFF_LINES - 1), `… and ${more} more changes`];
}

function flatten(value: unknown, path: string, into: Map<string, unknown>): void {
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) flatten(child, path === '' ? key : `${path}.${key}`, into);
  } else if (path !== '') {
    into.set(path, value);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
