// The Forwarder seam: one per endpoint, owning its connections (an undici pool for HTTP/1.1,
// one multiplexed session for HTTP/2 and gRPC). It carries attempts: a request and a handler
// in, a cancellable attempt out; the response goes to the handler, never to the client.

import type { Attempt, AttemptHandler } from '../call/attempt.ts';
import type { ProxiedRequest } from '../call/proxied-request.ts';
import type { AttemptBody } from '../call/replay-body.ts';

export interface Forwarder {
  /**
   * Sends `request` with `body` (null: none) to this endpoint; may call `handler` before it
   * returns. The body is the attempt's own reader of the call's body, taken in the form the
   * forwarder needs: the endpoint step destroys it when the attempt ends, however it ends, so a
   * forwarder need not.
   */
  forward(request: ProxiedRequest, body: AttemptBody | null, handler: AttemptHandler): Attempt;
  /** Stops taking new requests and closes once those in flight are done. */
  close(): Promise<void>;
  /** Settings the connections do not depend on: the next connection opened uses them, open ones stay. */
  applySettings(settings: ForwarderSettings): void;
}

/** What may change under a forwarder without reconnecting anything. */
export interface ForwarderSettings {
  readonly connectTimeoutMs: number;
}

/** The final statuses a client can be given; anything else from an upstream is not HTTP. */
export function isFinalStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 200 && status <= 599;
}

export function notFinalStatus(status: number): string {
  return `status ${status} is not a final HTTP status (200-599)`;
}
