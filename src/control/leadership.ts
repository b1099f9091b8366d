// Which replica of the control plane serves agents. Only the leader holds agents' Connect
// streams and pushes snapshots to them (and so is the one that knows their reports); every
// replica serves the policy calls, which go through the shared store.
import * as grpc from '@grpc/grpc-js';

export interface Leadership {
  /** Whether this replica may serve agents at this moment; asked before every push. */
  isLeader(): boolean;
  /** The advertised address of the leader as far as this replica knows; undefined when it does not. */
  leaderAddress(): string | undefined;
  /** Called with every change of isLeader(); returns the unsubscribe. */
  onChange(listener: (leading: boolean) => void): () => void;
}

/** A control plane with a store of its own (the file store) is the only replica, so it leads. */
export const SOLE_REPLICA: Leadership = {
  isLeader: () => true,
  leaderAddress: () => undefined,
  onChange: () => () => undefined,
};

/** The trailing metadata key a follower names the leader in (empty while none is known). */
export const LEADER_METADATA = 'meshlet-leader';

/** A follower's answer to a call only the leader serves: UNAVAILABLE, with where to go instead. */
export function notLeaderStatus(leadership: Leadership, what: string): grpc.StatusObject {
  const leader = leadership.leaderAddress();
  const metadata = new grpc.Metadata();
  metadata.set(LEADER_METADATA, leader ?? '');
  const where = leader === undefined ? 'no leader is known yet (an election is under way, or this replica has lost etcd); try another replica' : `the leader is ${leader}`;
  return { code: grpc.status.UNAVAILABLE, details: `this control plane replica is a follower and ${what} is served by the leader: ${where}`, metadata };
}

/** The leader a follower named in an error's trailers: undefined when it named none. */
export function leaderHint(metadata: grpc.Metadata | undefined): string | undefined {
  const value = metadata?.get(LEADER_METADATA)[0];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
