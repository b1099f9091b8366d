// `meshlet rollback --to V`: an earlier version's document becomes current again as a new
// version, compare-and-set like apply and followed out to the agents the same way. A dry run
// is an ApplyPolicy dry run of that version's document: the same diff, nothing stored.
import { CommandFailure, EXIT, withControl, type ConnectionFlags } from './operator-client.ts';
import { author, basedOn, finishChange, rolloutWaitMs, type ChangeFlags } from './policy-change.ts';

export interface RollbackFlags extends ConnectionFlags, ChangeFlags {
  readonly to: number;
}

export function runRollback(flags: RollbackFlags): Promise<number> {
  return withControl(flags, async (control) => {
    const waitMs = rolloutWaitMs(flags);
    const based = await basedOn(control, flags);
    if (flags.dryRun) {
      const target = await control.call('GetPolicy', { version: flags.to });
      if (target.version !== flags.to) throw new CommandFailure(`the control plane has no policy version ${flags.to}`, EXIT.invalid);
      const response = await control.call('ApplyPolicy', {
        documentJson: target.documentJson, expectedVersion: based.expectedVersion, force: based.force, dryRun: true, author: author(),
      });
      return finishChange(control, response, based, flags, waitMs);
    }
    const response = await control.call('Rollback', { toVersion: flags.to, expectedVersion: based.expectedVersion, force: based.force, author: author() });
    return finishChange(control, response, based, flags, waitMs);
  });
}
