// policy.fallback: the answer given when every attempt failed or the breaker is open. Either
// a gRPC status ({grpcStatus, message}) or an HTTP response ({status, headers, body}); which
// one is decided by the key written, so a mistake is reported against that form only.

import { z } from 'zod';
import { headerMap } from './fields.ts';
import { GRPC_STATUS_NAMES } from './grpc-status.ts';
import { describeValue } from './messages.ts';
import type { FallbackConfig } from './types.ts';

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

const GRPC_ONLY = ['message'] as const;
const HTTP_ONLY = ['headers', 'body'] as const;

export const fallbackSchema = z
  .strictObject({
    grpcStatus: grpcStatus.optional(),
    message: z.string().optional(),
    status: z.int().min(200).max(599).optional(),
    headers: headerMap.optional(),
    body: z.string().optional(),
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
      return { status: raw.status, headers: raw.headers ?? {}, ...(raw.body !== undefined ? { body: raw.body } : {}) };
    }
    ctx.addIssue({ code: 'custom', message: 'expected grpcStatus (a gRPC fallback) or status (an HTTP fallback)', input: raw });
    return z.NEVER;
  });
