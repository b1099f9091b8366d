// What the gossip wire (sealed-transport.ts, udp-transport.ts) counts. The agent implements it
// with prom-client (meshlet_gossip_packets_dropped_total{reason} and friends); tests count.

/**
 * Why a datagram or exchange frame from a peer was dropped before the protocol saw it:
 * bigger than the transport's limit, shorter than a sealed frame, an unknown frame version, no
 * key of the ring opens it (a bad tag and an unknown key look the same), or a copy of a frame
 * already opened.
 */
export type DropReason = 'oversize' | 'truncated' | 'version' | 'decrypt' | 'replay';

/**
 * Why an inbound exchange stream was cut: past the cap on streams at once, not finished within
 * the stream timeout, or a socket error (a reset, say).
 */
export type StreamRefusal = 'limit' | 'timeout' | 'error';

/** Why a datagram or exchange frame of this member's was not sent. */
export type SendFailure = 'oversize' | 'error';

export interface WireMetrics {
  packetDropped(reason: DropReason): void;
  streamRefused(reason: StreamRefusal): void;
  packetNotSent(reason: SendFailure): void;
  /** Bytes on the wire (sealed, with TCP length prefixes), datagrams and exchanges together. */
  bytes(direction: 'in' | 'out', count: number): void;
}
