// The network as the membership code sees it (memberlist's transport.go): best-effort
// datagrams for probes and piggybacked gossip, and a request/answer exchange over a stream
// for push-pull state and payloads too big for a datagram. Two implementations: the real
// sockets (udp-transport.ts: UDP and TCP on the gossip bind) and the in-memory network of the
// simulations (memory-network.ts, on the fake clock, with loss, delay, reordering and
// partitions). Encryption wraps either (sealed-transport.ts), so the protocol never sees a
// byte that was not authenticated.

export interface TransportHandlers {
  /** One datagram from `from` ("host:port"). */
  packet(from: string, data: Uint8Array): void;
  /**
   * One exchange request; the answer goes back on the same stream. Undefined (or a rejection)
   * closes the stream with no answer.
   */
  exchange(from: string, request: Uint8Array): Promise<Uint8Array | undefined>;
}

export interface Transport {
  /** "host:port" others reach this member at (the advertise address). */
  readonly localAddress: string;
  /** The largest datagram sendPacket carries; the protocol packs gossip up to it. */
  readonly maxPacketSize: number;
  /** Starts delivering to `handlers`; called once. */
  listen(handlers: TransportHandlers): Promise<void>;
  /** Best effort: no error, no delivery guarantee. */
  sendPacket(to: string, data: Uint8Array): void;
  /** Sends `request` over a stream and resolves with the answer; rejects on connect failure, a closed stream or after `timeoutMs`. */
  exchange(to: string, request: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  close(): Promise<void>;
}
