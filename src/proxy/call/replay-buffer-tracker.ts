// What all calls' replay buffers hold together, against one process-wide cap, as grpc-js's
// MessageBufferTracker (retrying-call.ts) does for its retry buffers: the per-call limit alone
// would let maxRequestsInFlight calls hold that many times its size. A buffer that cannot take
// a chunk from here stops being replayable; the bytes it held come back here at once.

export class ReplayBufferTracker {
  private held = 0;

  constructor(readonly limit: number) {}

  /** Bytes held by every replay buffer now. */
  get bytesHeld(): number {
    return this.held;
  }

  /** Counts `bytes` against the cap if they fit under it; false (and nothing counted) if not. */
  tryHold(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }

  /** Gives back bytes a buffer has let go of. */
  letGo(bytes: number): void {
    this.held -= bytes;
  }
}
