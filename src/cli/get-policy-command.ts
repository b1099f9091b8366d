// `meshlet get policy`: the current (or an earlier) policy document, as YAML that `meshlet
// apply -f` takes back, or as JSON with its version and history fields.
import { stringify } from 'yaml';
import type { PolicySnapshot } from '../control/control-proto.ts';
import { CommandFailure, EXIT, withControl, type ConnectionFlags } from './operator-client.ts';
import { isoTime, printJson } from './control-output.ts';

export type PolicyFormat = 'yaml' | 'json';

export interface GetPolicyFlags extends ConnectionFlags {
  readonly version?: number;
  readonly output: PolicyFormat;
}

export function runGetPolicy(flags: GetPolicyFlags): Promise<number> {
  return withControl(flags, async (control) => {
    const wanted = flags.version ?? 0;
    const snapshot = await control.call('GetPolicy', { version: wanted });
    if (wanted !== 0 && snapshot.version !== wanted) throw new CommandFailure(`the control plane has no policy version ${wanted}`, EXIT.invalid);
    const document = snapshotDocument(snapshot);
    if (flags.output === 'json') {
      printJson({
        version: snapshot.version,
        createdAtMs: snapshot.createdAtMs,
        createdAt: isoTime(snapshot.createdAtMs),
        author: snapshot.author,
        rolledBackFrom: snapshot.rolledBackFrom === 0 ? null : snapshot.rolledBackFrom,
        document,
      });
    } else {
      process.stdout.write(`${yamlHeader(snapshot)}\n${stringify(document)}`);
    }
    return EXIT.ok;
  });
}

function snapshotDocument(snapshot: PolicySnapshot): unknown {
  if (snapshot.documentJson === '') return { upstreams: {} };
  try {
    return JSON.parse(snapshot.documentJson) as unknown;
  } catch {
    throw new CommandFailure(`the control plane sent policy v${snapshot.version} as text that is not JSON`, EXIT.unreachable);
  }
}

function yamlHeader(snapshot: PolicySnapshot): string {
  if (snapshot.version === 0) return '# no policy applied yet (version 0)';
  const parts = [`# policy v${snapshot.version}`];
  const at = isoTime(snapshot.createdAtMs);
  if (at) parts.push(`stored ${at}`);
  if (snapshot.author) parts.push(`by ${snapshot.author}`);
  if (snapshot.rolledBackFrom > 0) parts.push(`(a rollback to v${snapshot.rolledBackFrom})`);
  return parts.join(', ');
}
