// policy.lb: the balancing algorithm and the knobs that belong to it. A knob written for an
// algorithm that ignores it is an error, so a config never looks like it does what it doesn't.

import { LB_DEFAULTS } from './defaults.ts';
import { z } from 'zod';
import { duration, headerName, nonEmptyString } from './fields.ts';
import type { HashOn, LbAlgorithm, LbConfig } from './types.ts';

export const LB_ALGORITHMS = [
  'round_robin',
  'weighted_round_robin',
  'random',
  'least_request',
  'peak_ewma',
  'ring_hash',
  'maglev',
] as const satisfies readonly LbAlgorithm[];

type AlgorithmField = 'hashOn' | 'decay' | 'choiceCount' | 'minRingSize' | 'tableSize';

/** Which algorithms read each algorithm-specific field. */
export const ALGORITHM_FIELDS: Readonly<Record<AlgorithmField, readonly LbAlgorithm[]>> = {
  hashOn: ['ring_hash', 'maglev'],
  decay: ['peak_ewma'],
  choiceCount: ['least_request', 'peak_ewma'],
  minRingSize: ['ring_hash'],
  tableSize: ['maglev'],
};

// Envoy's bounds: a larger ring or table costs memory for no better spread.
const MAX_RING_SIZE = 8_388_608;
const MAX_TABLE_SIZE = 5_000_011;

const hashOnSchema = z
  .strictObject({
    header: headerName.optional(),
    cookie: nonEmptyString.optional(),
    sourceAddress: z.literal(true).optional(),
  })
  .transform((raw, ctx): HashOn => {
    if (raw.header !== undefined && raw.cookie === undefined && raw.sourceAddress === undefined) return { header: raw.header };
    if (raw.cookie !== undefined && raw.header === undefined && raw.sourceAddress === undefined) return { cookie: raw.cookie };
    if (raw.sourceAddress !== undefined && raw.header === undefined && raw.cookie === undefined) return { sourceAddress: true };
    ctx.addIssue({ code: 'custom', message: 'expected exactly one of header, cookie or sourceAddress', input: raw });
    return z.NEVER;
  });

const tableSize = z
  .int()
  .min(2)
  .max(MAX_TABLE_SIZE)
  .refine(isPrime, { error: (issue) => `must be a prime number (such as 65537 or 5003), got ${String(issue.input)}` });

export const lbSchema = z
  .strictObject({
    algorithm: z.enum(LB_ALGORITHMS).optional(),
    hashOn: hashOnSchema.optional(),
    decay: duration.optional(),
    choiceCount: z.int().min(2).optional(),
    minRingSize: z.int().min(1).max(MAX_RING_SIZE).optional(),
    tableSize: tableSize.optional(),
  })
  .transform((raw, ctx): LbConfig => {
    const algorithm = raw.algorithm ?? LB_DEFAULTS.algorithm;
    for (const [field, algorithms] of Object.entries(ALGORITHM_FIELDS) as [AlgorithmField, readonly LbAlgorithm[]][]) {
      if (raw[field] !== undefined && !algorithms.includes(algorithm)) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `applies only to ${algorithms.join(' or ')}, not ${algorithm}`,
          input: raw[field],
        });
      }
    }
    return {
      algorithm,
      ...(raw.hashOn ? { hashOn: raw.hashOn } : {}),
      decay: raw.decay ?? LB_DEFAULTS.decay,
      choiceCount: raw.choiceCount ?? LB_DEFAULTS.choiceCount,
      minRingSize: raw.minRingSize ?? LB_DEFAULTS.minRingSize,
      tableSize: raw.tableSize ?? LB_DEFAULTS.tableSize,
    };
  });

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let divisor = 2; divisor * divisor <= n; divisor++) if (n % divisor === 0) return false;
  return true;
}
