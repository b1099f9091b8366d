// What the membership counts, as an interface the agent implements with prom-client
// (meshlet_gossip_*); tests pass a counting fake.

import type { GossipMessageType, MemberStatus } from './messages.ts';

export type ProbeResult = 'ack' | 'indirect-ack' | 'failed';
export type Direction = 'in' | 'out';
/** Why a packet was not acted on (the transport adds decrypt, replay, oversize). */
export type DropReason = 'decode' | 'unexpected' | 'member-cap' | 'pending-cap';

export interface GossipMetrics {
  /** meshlet_gossip_probes_total{result} */
  probe(result: ProbeResult): void;
  /** meshlet_gossip_messages_total{type,direction} */
  message(type: GossipMessageType, direction: Direction): void;
  /** meshlet_gossip_bytes_total{direction} */
  bytes(direction: Direction, count: number): void;
  /** meshlet_gossip_awareness_score */
  awareness(score: number): void;
  /** meshlet_gossip_members{state}: the count of members now in `status`. */
  members(status: MemberStatus, count: number): void;
  /** A member moved to `status` (meshlet_gossip_member_changes_total{status}). */
  memberChange(status: MemberStatus): void;
  /** meshlet_gossip_packets_dropped_total{reason} */
  dropped(reason: DropReason): void;
}

export const NO_GOSSIP_METRICS: GossipMetrics = {
  probe: () => {},
  message: () => {},
  bytes: () => {},
  awareness: () => {},
  members: () => {},
  memberChange: () => {},
  dropped: () => {},
};

/** pino's shape: a fields object, then the message. */
export interface GossipLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export const SILENT_LOGGER: GossipLogger = { info: () => {}, warn: () => {}, debug: () => {} };
