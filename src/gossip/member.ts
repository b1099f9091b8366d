// A member as the rest of the agent sees it: what discovery builds endpoint sets from and
// what /api/v1/members shows. The membership (swim.ts) owns these and replaces a member's
// object on every change, so a reader may keep one as a snapshot.

import type { MemberMeta, MemberStatus } from './messages.ts';

/** Why a member is in its state, for the admin API and the event stream. */
export type MemberChangeReason =
  | 'joined'
  | 'refuted'
  | 'updated'
  | 'probe-failed'
  | 'suspected-by-peer'
  | 'suspicion-timeout'
  | 'declared-dead-by-peer'
  | 'left'
  | 'reclaimed';

export interface Member {
  readonly node: string;
  /** Gossip address, "host:port". */
  readonly addr: string;
  readonly status: MemberStatus;
  readonly incarnation: number;
  readonly meta: MemberMeta;
  /** Clock time of the last status or meta change. */
  readonly since: number;
  readonly reason: MemberChangeReason;
}

export interface MemberChange {
  /** The member after the change; status 'dead' or 'left' when it went away. */
  readonly member: Member;
  readonly previous: Member | undefined;
}

/** What discovery and the admin API read; the membership implements it. */
export interface MembershipView {
  /** Every known member but this agent itself, in any state still remembered. */
  members(): Iterable<Member>;
  /** Called after every change; returns the unsubscribe. */
  subscribe(listener: (change: MemberChange) => void): () => void;
}
