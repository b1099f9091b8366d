// The policy document operators apply through the control plane:
//
//   defaults: <policy>               # optional: for every upstream of every agent
//   upstreams:
//     payments: <policy>             # for the upstream of that name, wherever it runs
//
// where <policy> has the fields of an agent config's upstreams[].policy. The control plane
// wins section by section: for an upstream, each top-level policy section (lb, timeout,
// retry, hedge, circuitBreaker, …) comes from the document's entry for that upstream, else
// from its defaults, else from the agent's own YAML. Everything else (listeners, endpoints,
// services, gossip) stays the agent's. The server validates a document with the agent's own
// policy schema before storing it; the agent checks the merged result again (its cross-checks
// know the upstream's protocol) and NACKs what it cannot apply.

import { z } from 'zod';
import { configErrorMap, toConfigIssues } from '../config/messages.ts';
import { name } from '../config/fields.ts';
import { policySchema } from '../config/policy-schema.ts';

/** A policy as written (before defaults), as YAML or JSON gives it. */
export type RawPolicy = Readonly<Record<string, unknown>>;

export interface PolicyDocument {
  readonly defaults?: RawPolicy;
  readonly upstreams: Readonly<Record<string, RawPolicy>>;
}

export interface FieldError {
  /** e.g. "upstreams.payments.retry.attempts" */
  readonly path: string;
  readonly message: string;
}

export type PolicyDocumentResult = { readonly ok: true; readonly document: PolicyDocument } | { readonly ok: false; readonly errors: readonly FieldError[] };

/** Upstreams one document may name; a document is configuration, not data. */
export const MAX_DOCUMENT_UPSTREAMS = 10_000;

const rawPolicy = z.record(z.string(), z.unknown());

const documentShape = z.strictObject({
  defaults: rawPolicy.optional(),
  upstreams: z.record(name, rawPolicy).optional(),
});

/** Validates a document (parsed YAML or JSON); every error names its field. */
export function parsePolicyDocument(value: unknown): PolicyDocumentResult {
  const shape = documentShape.safeParse(value ?? {}, { error: configErrorMap });
  if (!shape.success) return { ok: false, errors: toConfigIssues(shape.error.issues) };
  const upstreams = shape.data.upstreams ?? {};
  const errors: FieldError[] = [];
  if (Object.keys(upstreams).length > MAX_DOCUMENT_UPSTREAMS) errors.push({ path: 'upstreams', message: `must name at most ${MAX_DOCUMENT_UPSTREAMS} upstreams` });
  const check = (policy: RawPolicy, prefix: readonly string[]): void => {
    const parsed = policySchema.safeParse(policy, { error: configErrorMap });
    if (!parsed.success) errors.push(...toConfigIssues(parsed.error.issues, prefix));
  };
  if (shape.data.defaults !== undefined) check(shape.data.defaults, ['defaults']);
  for (const [upstream, policy] of Object.entries(upstreams)) check(policy, ['upstreams', upstream]);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, document: { ...(shape.data.defaults !== undefined ? { defaults: shape.data.defaults } : {}), upstreams } };
}

/** The policy an upstream runs with: section by section, the document's entry, its defaults, then the agent's own. */
export function mergePolicy(local: RawPolicy | undefined, document: PolicyDocument, upstream: string): RawPolicy {
  return { ...local, ...document.defaults, ...document.upstreams[upstream] };
}
