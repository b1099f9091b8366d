// `meshlet apply -f policy.yaml`: validates the document here first, so a bad file fails at
// once with its field errors, then applies it compare-and-set and follows it out to the agents.
import { readFile } from 'node:fs/promises';
import { formatIssues, parseYaml, readFailure } from '../config/load.ts';
import { parsePolicyDocument, type FieldError, type PolicyDocument } from '../control/policy-document.ts';
import { EXIT, withControl, type ConnectionFlags } from './operator-client.ts';
import { printJson } from './control-output.ts';
import { author, basedOn, finishChange, rolloutWaitMs, type ChangeFlags } from './policy-change.ts';

export interface ApplyFlags extends ConnectionFlags, ChangeFlags {
  readonly file: string;
}

type DocumentRead = { readonly ok: true; readonly document: PolicyDocument } | { readonly ok: false; readonly errors: readonly FieldError[] };

export async function runApply(flags: ApplyFlags): Promise<number> {
  const read = await readPolicyFile(flags.file);
  if (!read.ok) {
    if (flags.output === 'json') printJson({ ok: false, dryRun: flags.dryRun === true, version: 0, basedOn: null, conflict: false, unchanged: false, errors: read.errors, diff: [], rollout: null });
    else process.stderr.write(`${flags.file}: invalid policy document\n${formatIssues(read.errors)}\n`);
    return EXIT.invalid;
  }
  return withControl(flags, async (control) => {
    const waitMs = rolloutWaitMs(flags);
    const based = await basedOn(control, flags);
    const response = await control.call('ApplyPolicy', {
      documentJson: JSON.stringify(read.document),
      expectedVersion: based.expectedVersion,
      force: based.force,
      dryRun: flags.dryRun === true,
      author: author(),
    });
    return finishChange(control, response, based, flags, waitMs);
  });
}

async function readPolicyFile(path: string): Promise<DocumentRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { ok: false, errors: [{ path: '', message: `cannot read ${path}: ${readFailure(error)}` }] };
  }
  if (text.trim() === '') return { ok: false, errors: [{ path: '', message: 'the policy document is empty (`upstreams: {}` clears every policy)' }] };
  const yaml = parseYaml(text);
  if (!yaml.ok) return { ok: false, errors: yaml.issues };
  return parsePolicyDocument(yaml.value);
}
