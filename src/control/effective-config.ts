// The config an agent runs with a control-plane policy in force: its own YAML, with each
// upstream's policy merged section by section from the policy document (mergePolicy), checked
// as a whole by the same schema and cross-checks as a reload of the file. Runs where configs
// are parsed (the config worker), never in the agent's own heap.
//
// A problem in a section the document supplied is reported at the document's path
// (`upstreams.payments.fallback`, `defaults.retry.attempts`), as a NACK should name it; one in
// the agent's own sections keeps the config file's path (`upstreams[0].policy.timeout`).

import { parseConfig, type LoadOptions } from '../config/load.ts';
import { formatPath } from '../config/path.ts';
import type { ConfigIssue, LoadResult } from '../config/types.ts';
import { mergePolicy, parsePolicyDocument, type PolicyDocument } from './policy-document.ts';

/** `documentJson` undefined: the YAML alone. */
export function parseConfigWithPolicy(text: string, documentJson: string | undefined, opts: LoadOptions): LoadResult {
  if (documentJson === undefined) return parseConfig(text, opts);
  let value: unknown;
  try {
    value = JSON.parse(documentJson);
  } catch (err) {
    return { ok: false, issues: [{ path: '', message: `the policy document is not JSON: ${(err as Error).message}` }] };
  }
  const parsed = parsePolicyDocument(value);
  if (!parsed.ok) return { ok: false, issues: parsed.errors };
  const origins = new Map<string, SectionOrigin>();
  const result = parseConfig(text, opts, (tree) => overlayPolicy(tree, parsed.document, origins));
  return result.ok ? result : { ok: false, issues: result.issues.map((issue) => documentIssue(issue, origins)) };
}

/** Where a merged policy section came from: the document's path of it, and the upstream it was merged into. */
interface SectionOrigin {
  readonly path: string;
  readonly upstream: string;
  readonly fromDefaults: boolean;
}

const originKey = (index: number, section: string): string => `${index}/${section}`;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merges the document into every upstream the tree names, noting where each section came from. */
function overlayPolicy(tree: unknown, document: PolicyDocument, origins: Map<string, SectionOrigin>): unknown {
  if (!isPlainObject(tree) || !Array.isArray(tree.upstreams)) return tree;
  const upstreams = tree.upstreams.map((upstream: unknown, index) => {
    if (!isPlainObject(upstream) || typeof upstream.name !== 'string') return upstream;
    const local = upstream.policy;
    // A malformed local policy is the file's problem, reported at its own path.
    if (local !== undefined && !isPlainObject(local)) return upstream;
    const name = upstream.name;
    const own = document.upstreams[name] ?? {};
    for (const section of Object.keys(own)) origins.set(originKey(index, section), { path: formatPath(['upstreams', name, section]), upstream: name, fromDefaults: false });
    for (const section of Object.keys(document.defaults ?? {})) {
      if (!(section in own)) origins.set(originKey(index, section), { path: formatPath(['defaults', section]), upstream: name, fromDefaults: true });
    }
    return { ...upstream, policy: mergePolicy(local, document, name) };
  });
  return { ...tree, upstreams };
}

const POLICY_SECTION_PATH = /^upstreams\[(\d+)\]\.policy\.([A-Za-z_][A-Za-z0-9_]*)(.*)$/;

function documentIssue(issue: ConfigIssue, origins: ReadonlyMap<string, SectionOrigin>): ConfigIssue {
  const match = POLICY_SECTION_PATH.exec(issue.path);
  const origin = match && origins.get(originKey(Number(match[1]), match[2]!));
  if (!match || !origin) return issue;
  const path = `${origin.path}${match[3]}`;
  return { path, message: origin.fromDefaults ? `${issue.message} (upstream ${origin.upstream})` : issue.message };
}
