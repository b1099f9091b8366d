// What a Serf agent's log says about membership: every agent logs each member it sees join,
// fail or leave ("[INFO] serf: EventMemberFailed: s3 127.0.0.4"), at once, on stdout.
import type { MemberStatus } from './cluster.ts';

export interface SerfLogEvent {
  readonly member: string;
  readonly status: MemberStatus;
}

const EVENT = /\[INFO\] serf: EventMember(Join|Failed|Leave): (\S+) /;
const STATUS_OF: Readonly<Record<string, MemberStatus>> = { Join: 'alive', Failed: 'dead', Leave: 'left' };

/** The membership change a log line reports, if it reports one. */
export function parseSerfLogLine(line: string): SerfLogEvent | undefined {
  const match = EVENT.exec(line);
  if (!match) return undefined;
  return { member: match[2]!, status: STATUS_OF[match[1]!]! };
}
