// The Forwarder seam: one per endpoint, owning its connections (an undici pool for HTTP/1.1,
// one multiplexed session for HTTP/2 and gRPC). It carries one attempt of a ProxyCall.

import type { ProxyCall } from '../call/proxy-call.ts';

export interface Forwarder {
  /** Sends the call's request to this endpoint; the outcome comes back through the call. */
  forward(call: ProxyCall): void;
  /** Stops taking new requests and closes once those in flight are done. */
  close(): Promise<void>;
}

/** What a ProxyCall holds of the attempt in progress, to cancel it. */
export interface Attempt {
  cancel(): void;
}
