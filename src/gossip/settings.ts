// The membership protocol's tunables. The timing defaults are the config's (memberlist's
// DefaultLANConfig, Serf's LAN profile: GOSSIP_TIMING_DEFAULTS); the bounds at the end are ours.

import { GOSSIP_TIMING_DEFAULTS as T } from '../config/defaults.ts';
import type { GossipTimingConfig } from '../config/types.ts';

export interface GossipSettings {
  /** A member probes one other member this often (stretched by poor local health). */
  readonly probeIntervalMs: number;
  /** How long a direct probe waits for its ack before asking others to probe. */
  readonly probeTimeoutMs: number;
  /** Members asked to probe indirectly when a direct probe gets no ack. */
  readonly indirectChecks: number;
  /** Suspicion lasts at least this many probe intervals, times log10(n). */
  readonly suspicionMultiplier: number;
  /** A suspicion with no confirmations lasts this many times its minimum. */
  readonly suspicionMaxTimeoutMultiplier: number;
  /** Each broadcast is sent this many times log10(n + 1). */
  readonly retransmitMultiplier: number;
  /** Queued broadcasts go out this often, to gossipNodes random members. */
  readonly gossipIntervalMs: number;
  readonly gossipNodes: number;
  /** Full-state TCP exchange with one random member (scaled up past 32 members). */
  readonly pushPullIntervalMs: number;
  /** Local health score runs from 0 to this − 1. */
  readonly awarenessMaxMultiplier: number;
  /** Dead and left members are forgotten this long after they went. */
  readonly reclaimTimeMs: number;
  /** Dead members keep getting gossip this long, so a falsely dead one hears it and refutes. */
  readonly gossipToTheDeadMs: number;
  /** A push-pull with one random dead (not left) member this often, so healed partitions merge. */
  readonly reconnectIntervalMs: number;
  /** A forgotten dead member's address is still tried for reconnects this long. */
  readonly reconnectTimeoutMs: number;
  /** Push-pull (and join) exchanges give up after this. */
  readonly exchangeTimeoutMs: number;
  /** join() retries the seeds this many times more, doubling the wait from joinBackoffMs. */
  readonly joinRetries: number;
  readonly joinBackoffMs: number;
  /** leave() waits at most this long for its leave message to be gossiped. */
  readonly leaveTimeoutMs: number;
  /** Members remembered at most (alive or not); news of more is dropped. */
  readonly maxMembers: number;
  /** Broadcasts queued at most; past it the most-sent are dropped. */
  readonly maxQueuedBroadcasts: number;
}

type TimingSettings = Pick<
  GossipSettings,
  | 'probeIntervalMs'
  | 'probeTimeoutMs'
  | 'indirectChecks'
  | 'gossipIntervalMs'
  | 'gossipNodes'
  | 'pushPullIntervalMs'
  | 'suspicionMultiplier'
  | 'suspicionMaxTimeoutMultiplier'
  | 'retransmitMultiplier'
  | 'reclaimTimeMs'
  | 'reconnectIntervalMs'
>;

/** The settings the config's gossip timing fields set (config.gossip.timing). */
export function gossipSettingsFromConfig(t: GossipTimingConfig): TimingSettings {
  return {
    probeIntervalMs: t.probeInterval,
    probeTimeoutMs: t.probeTimeout,
    indirectChecks: t.indirectChecks,
    gossipIntervalMs: t.gossipInterval,
    gossipNodes: t.gossipNodes,
    pushPullIntervalMs: t.pushPullInterval,
    suspicionMultiplier: t.suspicionMultiplier,
    suspicionMaxTimeoutMultiplier: t.suspicionMaxTimeoutMultiplier,
    retransmitMultiplier: t.retransmitMultiplier,
    reclaimTimeMs: t.reclaimTime,
    reconnectIntervalMs: t.reconnectInterval,
  };
}

export const DEFAULT_GOSSIP_SETTINGS: GossipSettings = {
  ...gossipSettingsFromConfig(T),
  awarenessMaxMultiplier: 8,
  gossipToTheDeadMs: 30_000,
  reconnectTimeoutMs: 24 * 3_600_000,
  exchangeTimeoutMs: 10_000,
  joinRetries: 5,
  joinBackoffMs: 1000,
  leaveTimeoutMs: 5000,
  maxMembers: 10_000,
  maxQueuedBroadcasts: 20_000,
};
