// policy.fallback: the answer given when every attempt failed or the breaker is open. Either
// a gRPC status ({grpcStatus, message}) or an HTTP response ({status, headers, body}), with or
// without stale-if-error ({staleIfError}, which may also stand alone); which form is decided by
// the key written, so a mistake is reported against that form only.

import { z } from 'zod';
import { STALE_IF_ERROR_DEFAULTS } from './defaults.ts';
import { formatByteSize } from './byte-size.ts';
import { byteSize, duration, headerMap, positiveInt } from './fields.ts';
import { GRPC_STATUS_NAMES } from './grpc-status.ts';
import { describeValue } from './messages.ts';
import type { FallbackConfig, StaleIfErrorConfig } from './types.ts';

/** A status name or code, normalized to the name: 14 → "UNAVAILABLE". */
const grpcStatus = z.unknown().transform((input, ctx): string => {
  if (typeof input === 'number' && Number.isInteger(input)) {
    const byCode = GRPC_STATUS_NAMES[input];
    if (byCode) return byCode;
  }
  if (typeof input === 'string' && (GRPC_STATUS_NAMES as readonly string[]).includes(input)) return input;
  ctx.addIssue({
    code: 'custom',
    message: `expected a gRPC status name (${GRPC_STATUS_NAMES.join(', ')}) or a code from 0 to 16, got ${describeValue(input)}`,
    input,
  });
  return z.NEVER;
});

/** 1 GiB per upstream is past what a sidecar should hold for stale answers. */
const MAX_STALE_BYTES = 1024 * 1024 * 1024;

const staleIfErrorSchema = z
  .strictObject({
    maxAge: duration.optional(),
    maxEntries: positiveInt.max(1_000_000).optional(),
    maxBytes: byteSize(1, MAX_STALE_BYTES).optional(),
    maxEntryBytes: byteSize(1, MAX_STALE_BYTES).optional(),
  })
  .transform((raw, ctx): StaleIfErrorConfig => {
    const maxBytes = raw.maxBytes ?? STALE_IF_ERROR_DEFAULTS.maxBytes;
    const maxEntryBytes = raw.maxEntryBytes ?? Math.min(STALE_IF_ERROR_DEFAULTS.maxEntryBytes, maxBytes);
    if (maxEntryBytes > maxBytes) {
      ctx.addIssue({ code: 'custom', path: ['maxEntryBytes'], message: `must not be larger than maxBytes (${formatByteSize(maxBytes)})`, input: maxEntryBytes });
    }
    return { maxAge: raw.maxAge ?? STALE_IF_ERROR_DEFAULTS.maxAge, maxEntries: raw.maxEntries ?? STALE_IF_ERROR_DEFAULTS.maxEntries, maxBytes, maxEntryBytes };
  });

/**
 * Headers a static response cannot set: the agent frames the body itself (content-length), and
 * connection-specific ones would make an HTTP/2 client's stream refuse the whole response.
 */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade', 'te', 'trailer']);

const GRPC_ONLY = ['message'] as const;
const HTTP_ONLY = ['headers', 'body', 'staleIfError'] as const;

export const fallbackSchema = z
  .strictObject({
    grpcStatus: grpcStatus.optional(),
    message: z.string().optional(),
    status: z.int().min(200).max(599).optional(),
    headers: headerMap.optional(),
    body: z.string().optional(),
    staleIfError: staleIfErrorSchema.optional(),
  })
  .transform((raw, ctx): FallbackConfig => {
    const misplaced = (fields: readonly (keyof typeof raw)[], reason: string) => {
      for (const field of fields) {
        if (raw[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: reason, input: raw[field] });
      }
    };
    if (raw.grpcStatus !== undefined && raw.status !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'set either grpcStatus (a gRPC fallback) or status (an HTTP fallback), not both', input: raw });
      return z.NEVER;
    }
    if (raw.grpcStatus !== undefined) {
      misplaced(HTTP_ONLY, 'applies only to an HTTP fallback (status), not to a gRPC one (grpcStatus)');
      return { grpcStatus: raw.grpcStatus, ...(raw.message !== undefined ? { message: raw.message } : {}) };
    }
    if (raw.status !== undefined) {
      misplaced(GRPC_ONLY, 'applies only to a gRPC fallback (grpcStatus), not to an HTTP one (status)');
      for (const name of Object.keys(raw.headers ?? {})) {
        if (FRAMING_HEADERS.has(name)) ctx.addIssue({ code: 'custom', path: ['headers', name], message: 'is a framing or connection header, which the agent sets itself; leave it out', input: name });
      }
      return {
        status: raw.status,
        headers: raw.headers ?? {},
        ...(raw.body !== undefined ? { body: raw.body } : {}),
        ...(raw.staleIfError !== undefined ? { staleIfError: raw.staleIfError } : {}),
      };
    }
    if (raw.staleIfError !== undefined) {
      misplaced(['headers', 'body'], 'applies only to a static HTTP fallback: add status');
      return { staleIfError: raw.staleIfError };
    }
    ctx.addIssue({ code: 'custom', message: 'expected grpcStatus (a gRPC fallback), status (an HTTP fallback) or staleIfError', input: raw });
    return z.NEVER;
  });
