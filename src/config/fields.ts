// Leaf schemas shared by every section: durations, addresses, names, HTTP header maps.
// Each turns what users write into the normalized value once, with its own clear reason.

import { z } from 'zod';
import { parseHostPort } from './address.ts';
import { formatByteSize, parseByteSize } from './byte-size.ts';
import { parseDuration } from './duration.ts';
import { describeValue, MISSING_FIELD } from './messages.ts';
import type { HostPort } from './types.ts';

type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** A schema that parses one value with `parse`; undefined means the field was left out. */
function leaf<T>(parse: (input: unknown) => Parsed<T>) {
  return z.unknown().transform((input, ctx): T => {
    const result: Parsed<T> = input === undefined ? { ok: false, reason: MISSING_FIELD } : parse(input);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.reason, input });
    return z.NEVER;
  });
}

/** A duration in ms, longer than zero: "250ms", "2s", "1m30s" or a bare number of ms. */
export const duration = leaf<number>((input) => {
  if (typeof input !== 'string' && typeof input !== 'number') {
    return { ok: false, reason: `expected a duration such as 250ms, 2s or 1m30s, got ${describeValue(input)}` };
  }
  const result = parseDuration(input);
  if (!result.ok) return result;
  if (result.ms === 0) return { ok: false, reason: `must be longer than 0, got ${describeValue(input)}` };
  return { ok: true, value: result.ms };
});

/** A size in bytes from `min` to `max`: "256KiB", "1MiB" or a bare number of bytes. */
export function byteSize(min: number, max: number) {
  return leaf<number>((input) => {
    if (typeof input !== 'string' && typeof input !== 'number') {
      return { ok: false, reason: `expected a size such as 64KiB, 1MiB or 65536, got ${describeValue(input)}` };
    }
    const result = parseByteSize(input);
    if (!result.ok) return result;
    if (result.bytes < min) return { ok: false, reason: `must be at least ${formatByteSize(min)}, got ${describeValue(input)}` };
    if (result.bytes > max) return { ok: false, reason: `must be at most ${formatByteSize(max)}, got ${describeValue(input)}` };
    return { ok: true, value: result.bytes };
  });
}

const hostPortText = z.string({ error: (issue) => (issue.input === undefined ? MISSING_FIELD : `expected "host:port", got ${describeValue(issue.input)}`) });

function hostPort(allowPortZero: boolean) {
  return hostPortText
    .transform((text, ctx): HostPort => {
      const result = parseHostPort(text, { allowPortZero });
      if (result.ok) return result.value;
      ctx.addIssue({ code: 'custom', message: result.reason, input: text });
      return z.NEVER;
    });
}

/** Where the agent listens; port 0 asks the OS for any free port. */
export const listenAddress = hostPort(true);

/** Where the agent connects; needs a real port. */
export const address = hostPort(false);

/** One place to connect to, or several separated by commas ("a:7950,b:7950"), each with a real port. */
export const addressList = hostPortText.transform((text, ctx): HostPort[] => {
  const entries = text.split(',').map((entry) => entry.trim());
  const parsed: HostPort[] = [];
  for (const [index, entry] of entries.entries()) {
    const result = parseHostPort(entry, { allowPortZero: false });
    if (!result.ok) {
      ctx.addIssue({ code: 'custom', message: entries.length > 1 ? `entry ${index + 1} of ${entries.length}: ${result.reason}` : result.reason, input: text });
      return z.NEVER;
    }
    parsed.push(result.value);
  }
  return parsed;
});

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** An upstream or service name: it is matched against Host / :authority and used in metrics. */
export const name = z.string().regex(NAME, {
  error: (issue) =>
    `must start with a letter or digit and contain only letters, digits, ".", "-" and "_", got ${describeValue(issue.input)}`,
});

export const nonEmptyString = z.string().min(1);

export const positiveInt = z.int().min(1);

export const protocol = z.enum(['http', 'http2', 'grpc']);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[^\r\n\0]*$/;

/** An HTTP header name, lowercased once here so the request path never has to. */
export const headerName = z
  .string()
  .regex(HEADER_NAME, { error: (issue) => `expected an HTTP header name, got ${describeValue(issue.input)}` })
  .transform((header) => header.toLowerCase());

/** Response headers; names lowercased, values free of line breaks. */
export const headerMap = z.record(
  headerName,
  z.string().regex(HEADER_VALUE, { error: 'a header value must not contain line breaks' }),
);
