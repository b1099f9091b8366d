// policy.lb: the balancing algorithm and the knobs that belong to it. The shapes are checked
// here; which knobs an algorithm reads and what values it takes are asked of the balancer
// registry, where each algorithm registered them. A knob written for an algorithm that
// ignores it is an error, so a config never looks like it does what it doesn't.

import { LB_DEFAULTS } from './defaults.ts';
import { z } from 'zod';
import { duration, headerName, nonEmptyString } from './fields.ts';
import type { HashOn, LbConfig } from './types.ts';
import type { LbField } from '../balancer/lb-type.ts';
import { LB_ALGORITHMS, lbIssues } from '../balancer/registry.ts';

const ALGORITHM_FIELDS = ['hashOn', 'decay', 'choiceCount', 'minRingSize', 'tableSize'] as const satisfies readonly LbField[];

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

export const lbSchema = z
  .strictObject({
    algorithm: z.enum(LB_ALGORITHMS).optional(),
    hashOn: hashOnSchema.optional(),
    decay: duration.optional(),
    choiceCount: z.int().optional(),
    minRingSize: z.int().optional(),
    tableSize: z.int().optional(),
  })
  .transform((raw, ctx): LbConfig => {
    const lb: LbConfig = {
      algorithm: raw.algorithm ?? LB_DEFAULTS.algorithm,
      ...(raw.hashOn ? { hashOn: raw.hashOn } : {}),
      decay: raw.decay ?? LB_DEFAULTS.decay,
      choiceCount: raw.choiceCount ?? LB_DEFAULTS.choiceCount,
      minRingSize: raw.minRingSize ?? LB_DEFAULTS.minRingSize,
      tableSize: raw.tableSize ?? LB_DEFAULTS.tableSize,
    };
    const given = new Set(ALGORITHM_FIELDS.filter((field) => raw[field] !== undefined));
    for (const issue of lbIssues(lb, given)) {
      ctx.addIssue({ code: 'custom', path: [issue.field], message: issue.message, input: raw[issue.field] });
    }
    return lb;
  });
