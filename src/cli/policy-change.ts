// What apply and rollback share: the version a change is based on (compare-and-set), what the
// control plane answered, following the new version out to the agents, and the exit code.
import os from 'node:os';
import { formatDuration, parseDuration } from '../config/duration.ts';
import type { ApplyPolicyResponse, FieldError } from '../control/control-proto.ts';
import { CommandFailure, EXIT, type ControlConnection } from './operator-client.ts';
import { plural, printJson, type OutputFormat } from './control-output.ts';
import { followRollout, ProgressLine, type Rollout } from './rollout.ts';

export const DEFAULT_ROLLOUT_WAIT = '10s';

export interface ChangeFlags {
  readonly force?: boolean;
  readonly expectedVersion?: number;
  readonly dryRun?: boolean;
  readonly wait?: string;
  readonly output: OutputFormat;
}

export interface BasedOn {
  readonly expectedVersion: number;
  readonly force: boolean;
}

/** Compare-and-set on the version read just now, unless the operator named one or forces. */
export async function basedOn(control: ControlConnection, flags: ChangeFlags): Promise<BasedOn> {
  if (flags.force) return { expectedVersion: 0, force: true };
  if (flags.expectedVersion !== undefined) return { expectedVersion: flags.expectedVersion, force: false };
  const current = await control.call('GetPolicy', { version: 0 });
  return { expectedVersion: current.version, force: false };
}

/** Who changed the policy, for the control plane's history. */
export function author(): string {
  try {
    return `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    return os.hostname();
  }
}

export function rolloutWaitMs(flags: ChangeFlags): number {
  const wait = parseDuration(flags.wait ?? DEFAULT_ROLLOUT_WAIT);
  if (!wait.ok) throw new CommandFailure(`--wait: ${wait.reason}`, EXIT.invalid);
  return wait.ms;
}

/** The JSON a script reads after apply or rollback (`-o json`). */
export interface ChangeSummary {
  readonly ok: boolean;
  readonly dryRun: boolean;
  /** The stored version (dry run: the version it would get); 0 when refused before that. */
  readonly version: number;
  /** The version the change was based on; null with --force. */
  readonly basedOn: number | null;
  /** Refused because the current version was not the one it was based on (exit 2). */
  readonly conflict: boolean;
  /** The document equals the current one: nothing was stored, `version` is the current one. */
  readonly unchanged: boolean;
  readonly errors: readonly FieldError[];
  readonly diff: readonly string[];
  /** After a stored change, unless --wait 0. */
  readonly rollout: Rollout | null;
}

/**
 * Prints the control plane's answer, follows a stored version out to the agents, and returns
 * the exit code: 1 refused, 2 conflict, 3 not acknowledged by every connected agent, else 0.
 */
export async function finishChange(
  control: ControlConnection, response: ApplyPolicyResponse, based: BasedOn, flags: ChangeFlags, waitMs: number,
): Promise<number> {
  const conflict = isConflict(response);
  const summary: Omit<ChangeSummary, 'rollout'> = {
    ok: response.ok, dryRun: flags.dryRun === true, version: response.version, basedOn: based.force ? null : based.expectedVersion,
    conflict, unchanged: response.unchanged, errors: response.errors, diff: response.diff,
  };
  const json = flags.output === 'json';
  if (!response.ok) {
    if (json) printJson({ ...summary, rollout: null });
    else printRefusal(response, conflict);
    return conflict ? EXIT.conflict : EXIT.invalid;
  }
  if (!json) printDiff(response, flags.dryRun === true);
  if (flags.dryRun || waitMs === 0) {
    if (json) printJson({ ...summary, rollout: null });
    return EXIT.ok;
  }
  const progress = json ? undefined : new ProgressLine(process.stdout);
  let rollout: Rollout;
  try {
    rollout = await followRollout(control, response.version, waitMs, progress);
  } catch (error) {
    if (!(error instanceof CommandFailure)) throw error;
    // Stored is stored: a script must not read this as "not applied" (4) and apply again blindly.
    progress?.finish();
    if (json) printJson({ ...summary, rollout: null });
    process.stderr.write(`meshlet: v${response.version} is stored, but its rollout cannot be followed: ${error.message}\n`);
    return EXIT.notAcked;
  }
  if (json) printJson({ ...summary, rollout });
  else printRolloutEnd(rollout, waitMs);
  return rollout.complete && rollout.nacked.length === 0 ? EXIT.ok : EXIT.notAcked;
}

/** The control plane names a compare-and-set failure by the one error on expected_version. */
function isConflict(response: ApplyPolicyResponse): boolean {
  return !response.ok && response.errors.some((error) => error.path === CONFLICT_PATH);
}

const CONFLICT_PATH = 'expected_version';

function printRefusal(response: ApplyPolicyResponse, conflict: boolean): void {
  if (conflict) {
    const reason = response.errors.find((error) => error.path === CONFLICT_PATH)?.message || `the policy is at v${response.version} now`;
    process.stderr.write(`meshlet: conflict: ${reason}\n`);
    return;
  }
  process.stderr.write('meshlet: refused by the control plane:\n');
  for (const error of response.errors) process.stderr.write(`${formatFieldError(error)}\n`);
}

export function formatFieldError(error: FieldError): string {
  return error.path === '' ? error.message : `${error.path}: ${error.message}`;
}

function printDiff(response: ApplyPolicyResponse, dryRun: boolean): void {
  if (response.unchanged) {
    process.stdout.write(`unchanged: the document is v${response.version}'s; nothing stored\n`);
    return;
  }
  const what = dryRun ? `dry run, nothing stored: this would be v${response.version}` : `applied v${response.version}`;
  const changes = response.diff.length === 0 ? 'no changes' : plural(response.diff.length, 'change');
  process.stdout.write(`${what} (${changes})\n`);
  for (const line of response.diff) process.stdout.write(`  ${line}\n`);
}

const MAX_NAMED = 20;

function names(nodes: readonly string[]): string {
  const shown = nodes.slice(0, MAX_NAMED).join(', ');
  return nodes.length > MAX_NAMED ? `${shown} and ${nodes.length - MAX_NAMED} more` : shown;
}

function printRolloutEnd(rollout: Rollout, waitMs: number): void {
  if (rollout.connected === 0) process.stdout.write('no agent is connected\n');
  if (rollout.nacked.length > 0) {
    process.stdout.write(`v${rollout.version} refused (NACK) by ${plural(rollout.nacked.length, 'agent')}:\n`);
    for (const agent of rollout.nacked) {
      for (const error of agent.errors) process.stdout.write(`  ${agent.node}: ${formatFieldError(error)}\n`);
      if (agent.errors.length === 0) process.stdout.write(`  ${agent.node}: (no reason given)\n`);
    }
  }
  if (rollout.pending.length > 0) {
    process.stdout.write(`not acked within ${formatDuration(waitMs)} by ${plural(rollout.pending.length, 'agent')}: ${names(rollout.pending)}\n`);
  }
  if (rollout.disconnected.length > 0) {
    process.stdout.write(`not waited for, disconnected: ${names(rollout.disconnected)}\n`);
  }
}
