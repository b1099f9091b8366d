// What a Serf agent's log says about membership: every agent logs each member it sees join,
// fail or leave ("[INFO] serf: EventMemberFailed: s3 127.0.0.4"), at once, on stdout, and a
// prober logs each probe that got no ack ("[INFO] memberlist: Suspect s3 has failed, no acks
// received"); a suspicion it only heard gossiped is not logged.
import type { MemberStatus } from './cluster.ts';

/** A change of the member's status, or (`suspect`) this agent's own probe of it failing, which no event follows when it refutes. */
export interface SerfLogEvent {
  readonly member: string;
  readonly status: MemberStatus;
}

const EVENT = /\[INFO\] serf: EventMember(Join|Failed|Leave): (\S+) /;
const OWN_SUSPICION = /\[INFO\] memberlist: Suspect (\S+) has failed/;
const STATUS_OF: Readonly<Record<string, MemberStatus>> = { Join: 'alive', Failed: 'dead', Leave: 'left' };

/** The membership change a log line reports, if it reports one. */
export function parseSerfLogLine(line: string): SerfLogEvent | undefined {
  const match = EVENT.exec(line);
  if (!match) {
    const suspected = OWN_SUSPICION.exec(line);
    return suspected ? { member: suspected[1]!, status: 'suspect' } : undefined;
  }
  return { member: match[2]!, status: STATUS_OF[match[1]!]! };
}
