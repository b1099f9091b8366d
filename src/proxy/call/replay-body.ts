// A call's request body, teed to its attempts. The body streams from the client to each
// attempt's reader with back-pressure, and what has streamed is kept, up to a per-call limit
// (Linkerd's 64 KiB) and a process-wide one (ReplayBufferTracker), so that a retry or a hedge
// can send it again from its first byte. Past either limit the body streams on to one reader
// and the call is no longer retryable, as Envoy and grpc-js do.
//
// The source is read only as fast as the fastest reader wants: a reader that falls behind is
// served from what is held, and a reader that stops reading holds nothing up but itself. While
// the body is retryable everything read is held anyway, so a slower reader costs no memory.
// Once it is not, a chunk is held only for a reader still behind; a chunk that does not fit
// leaves the reader furthest along (the first created among equals) as the only one, as
// grpc-js commits the attempt that has sent the most, and the others fail with 'outrun'.

import { Readable, type Writable } from 'node:stream';
import type { ReplayBufferTracker } from './replay-buffer-tracker.ts';

export interface ReplayLimits {
  /** Bytes one call holds for replay at most (policy.retry.bufferLimit). */
  readonly perCall: number;
  /** What all calls hold together (listeners.maxReplayBuffered). */
  readonly shared: ReplayBufferTracker;
}

/** Why a reader failed; the error a reader is destroyed with says which. */
export type ReplayFailure =
  /** The body outgrew the replay buffer while another reader was further along: that one goes on alone. */
  | 'outrun'
  /** The reader was asked for after the body stopped being held from its first byte. */
  | 'not_held'
  /** The client's request stream failed, or closed before its end. */
  | 'client_failed';

export class ReplayBodyError extends Error {
  constructor(
    readonly reason: ReplayFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ReplayBodyError';
  }
}

/**
 * One attempt's reader of the call's body, in the form its forwarder takes: a Readable for
 * undici, or written straight into a node:http2 request stream, which spares a Readable and
 * pipe()'s listeners on every call. It is the attempt's own, to destroy when the attempt ends
 * (that drops it and nothing else). A failing reader fails with a ReplayBodyError.
 */
export interface AttemptBody {
  /** The body as a Readable (made on the first call; destroyed with the ReplayBodyError if it fails). */
  readable(): Readable;
  /** Writes the body into `target` with back-pressure and ends it at the body's end; `onError` hears a failure. */
  writeTo(target: Writable, onError: (error: ReplayBodyError) => void): void;
  /** The attempt is over: it reads nothing more. Idempotent. */
  destroy(): void;
}

/** What a call makes of its request body: one reader per attempt. */
export interface ReplayBody {
  /** Every byte read from the client so far is still held, so a new reader replays the body whole. Once false, false for good. */
  readonly retryable: boolean;
  /** The body from its first byte, then the rest as the client sends it; null for a request without a body. */
  reader(): AttemptBody | null;
  /** No further attempt will be made (a response was committed): from now on only what live readers still lack is held. */
  commit(): void;
  /**
   * The call is over: held bytes go back to the shared cap, readers still mid-body are destroyed,
   * and the source is let go of, paused, with its unread bytes in it: what becomes of those is the call's to decide.
   */
  release(): void;
}

/** A request without a body: nothing to hold, so one object serves every such call. */
export const NO_BODY: ReplayBody = Object.freeze({
  retryable: true,
  reader: () => null,
  commit: () => undefined,
  release: () => undefined,
});

export function replayBody(source: Readable | null, limits: ReplayLimits): ReplayBody {
  return source === null ? NO_BODY : new TeedBody(source, limits);
}

const ignore = (): void => undefined;

/**
 * One attempt's place in the body. The teed body drives it with push(chunk) (false: stop until
 * it pulls again), push(null) at the end and destroy(error) on a failure, as it would a Readable.
 */
class BodyReader implements AttemptBody {
  /** Index of the next chunk to push. */
  next = 0;
  /** Asked for more and reached the newest chunk: the source flows for it. */
  wanting = false;
  /** Still reading: neither ended, failed nor destroyed. */
  live = true;
  private stream: BodyReadable | undefined;
  private target: Writable | undefined;
  private onError: ((error: ReplayBodyError) => void) | undefined;
  /** Made the first time the target pushes back. */
  private onDrain: (() => void) | undefined;
  /** Why it failed before anyone took it. */
  private failure: ReplayBodyError | undefined;

  constructor(private readonly body: TeedBody) {}

  readable(): Readable {
    if (this.stream === undefined) {
      this.stream = new BodyReadable(this, this.body.highWaterMark);
      if (!this.live) this.stream.destroy(this.failure);
    }
    return this.stream;
  }

  writeTo(target: Writable, onError: (error: ReplayBodyError) => void): void {
    this.target = target;
    this.onError = onError;
    if (this.failure !== undefined) onError(this.failure);
    else if (this.live) this.body.pull(this);
  }

  /** @internal the teed body's */
  push(chunk: Buffer | null): boolean {
    if (this.stream !== undefined) return this.stream.push(chunk);
    const target = this.target!;
    if (chunk === null) {
      target.end();
      return false;
    }
    if (target.destroyed) return false;
    if (target.write(chunk)) return true;
    this.onDrain ??= () => {
      if (this.live) this.body.pull(this);
    };
    target.once('drain', this.onDrain);
    return false;
  }

  /** @internal BodyReadable's _read */
  pull(): void {
    this.body.pull(this);
  }

  /** @internal BodyReadable's _destroy */
  dropped(): void {
    this.body.drop(this);
    this.live = false;
  }

  /** Ends this reader; with `error`, the body failed it. */
  destroy(error?: ReplayBodyError): void {
    if (this.stream !== undefined) {
      this.stream.destroy(error);
      return;
    }
    this.body.drop(this);
    this.live = false;
    if (error === undefined || this.failure !== undefined) return;
    this.failure = error;
    this.onError?.(error);
  }
}

/** A reader as a Readable, for undici. */
class BodyReadable extends Readable {
  constructor(
    private readonly reader: BodyReader,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
    // Whoever consumes the reader hears of its failure if they listen; one who does not (a bare
    // pipe()) must not have it end the process.
    this.on('error', ignore);
  }

  override _read(): void {
    this.reader.pull();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.reader.dropped();
    callback(error);
  }
}

type BodyState = 'open' | 'ended' | 'failed' | 'released';

class TeedBody implements ReplayBody {
  retryable = true;
  private state: BodyState = 'open';
  private failure: ReplayBodyError | undefined;
  /** Chunks received so far. */
  private received = 0;
  /** The newest chunks, held: indexes received - held.length up to received - 1. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private readers: BodyReader[] = [];
  /** Readers with `wanting` set. */
  private wanting = 0;
  private flowing = false;
  /** Set while looping over readers, whom a push may destroy: they are then removed after the loop. */
  private delivering = false;

  constructor(
    private readonly source: Readable,
    private readonly limits: ReplayLimits,
  ) {
    if (source.readableEnded) {
      this.state = 'ended';
      return;
    }
    if (source.destroyed) {
      this.fail(cutOff());
      return;
    }
    // Paused before 'data' is listened to, which would otherwise start the flow at once.
    source.pause();
    source.on('data', this.onData);
    source.on('end', this.onEnd);
    source.on('error', this.onError);
    source.on('close', this.onClose);
  }

  get highWaterMark(): number {
    return this.source.readableHighWaterMark;
  }

  reader(): AttemptBody {
    const reader = new BodyReader(this);
    if (this.retryable) {
      this.readers.push(reader);
    } else {
      reader.live = false;
      reader.destroy(this.failure ?? new ReplayBodyError('not_held', 'the request body is no longer held from its first byte (past the replay buffer, or committed to another attempt)'));
    }
    return reader;
  }

  commit(): void {
    if (!this.retryable) return;
    this.retryable = false;
    this.trim();
  }

  release(): void {
    if (this.state === 'released') return;
    const wasOpen = this.state === 'open';
    this.state = 'released';
    this.retryable = false;
    this.letGoOfAll();
    const readers = this.readers;
    this.readers = [];
    this.wanting = 0;
    for (const reader of readers) {
      if (!reader.live) continue;
      reader.live = false;
      reader.destroy();
    }
    const source = this.source;
    source.off('data', this.onData);
    source.off('end', this.onEnd);
    source.off('error', this.onError);
    source.off('close', this.onClose);
    // A source still flowing with nobody on 'data' would lose its bytes.
    if (wasOpen && this.flowing) source.pause();
    this.flowing = false;
  }

  /** A reader's _read: what is held past its place, then the end, or the source's next chunk. */
  pull(reader: BodyReader): void {
    const held = this.held;
    const first = this.received - held.length;
    while (reader.next < this.received) {
      const chunk = held[reader.next - first] as Buffer;
      reader.next += 1;
      if (!reader.push(chunk)) {
        this.trim();
        return;
      }
    }
    this.trim();
    if (this.state === 'ended') {
      this.finish(reader);
      return;
    }
    if (!reader.wanting) {
      reader.wanting = true;
      this.wanting += 1;
    }
    if (!this.flowing && this.state === 'open') {
      this.flowing = true;
      this.source.resume();
    }
  }

  /** A reader's _destroy: whoever destroyed it is done with it; the others read on. */
  drop(reader: BodyReader): void {
    if (!reader.live) return;
    reader.live = false;
    if (reader.wanting) {
      reader.wanting = false;
      this.wanting -= 1;
    }
    if (this.delivering) return;
    this.removeGone();
    this.pauseIfUnwanted();
    this.trim();
  }

  private readonly onData = (chunk: Buffer): void => {
    const index = this.received;
    this.received += 1;
    let behind = false;
    this.delivering = true;
    for (const reader of this.readers) {
      if (!reader.live) continue;
      if (!reader.wanting) {
        behind = true;
        continue;
      }
      reader.next = index + 1;
      // A push may destroy the reader (its consumer's 'data' handler), which clears `wanting`.
      if (!reader.push(chunk) && reader.wanting) {
        reader.wanting = false;
        this.wanting -= 1;
      }
    }
    this.delivering = false;
    this.removeGone();
    if (this.retryable || behind) this.hold(chunk, index);
    this.pauseIfUnwanted();
  };

  private readonly onEnd = (): void => {
    this.state = 'ended';
    this.delivering = true;
    for (const reader of this.readers) {
      if (reader.live && reader.wanting) this.finish(reader);
    }
    this.delivering = false;
    this.wanting = 0;
    this.flowing = false;
    this.removeGone();
    this.trim();
  };

  private readonly onError = (error: Error): void => {
    if (this.state !== 'open') return;
    this.fail(new ReplayBodyError('client_failed', `the client's request body failed: ${error.message}`, { cause: error }));
  };

  private readonly onClose = (): void => {
    if (this.state === 'open') this.fail(cutOff());
  };

  /** Keeps the chunk at `index` for the readers still behind it, or for a retry, if the limits let it. */
  private hold(chunk: Buffer, index: number): void {
    const size = chunk.length;
    if (this.heldBytes + size <= this.limits.perCall && this.limits.shared.tryHold(size)) {
      this.held.push(chunk);
      this.heldBytes += size;
      return;
    }
    this.retryable = false;
    const survivor = this.furthestReader();
    this.delivering = true;
    for (const reader of this.readers) {
      // The survivor itself may lack this very chunk (its pusher was destroyed mid-delivery):
      // then nobody can have the body whole.
      if (reader.live && (reader !== survivor || reader.next <= index)) reader.destroy(outrun());
    }
    this.delivering = false;
    this.removeGone();
    this.trim();
  }

  private furthestReader(): BodyReader | undefined {
    let furthest: BodyReader | undefined;
    for (const reader of this.readers) {
      if (reader.live && (furthest === undefined || reader.next > furthest.next)) furthest = reader;
    }
    return furthest;
  }

  /** Once the body is not retryable, held chunks every live reader has are let go of. */
  private trim(): void {
    if (this.retryable || this.held.length === 0) return;
    let needed = this.received;
    for (const reader of this.readers) {
      if (reader.live && reader.next < needed) needed = reader.next;
    }
    const count = needed - (this.received - this.held.length);
    if (count <= 0) return;
    if (count === this.held.length) {
      this.letGoOfAll();
      return;
    }
    let bytes = 0;
    for (let i = 0; i < count; i += 1) bytes += (this.held[i] as Buffer).length;
    this.held.splice(0, count);
    this.heldBytes -= bytes;
    this.limits.shared.letGo(bytes);
  }

  private letGoOfAll(): void {
    if (this.held.length === 0) return;
    this.limits.shared.letGo(this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
  }

  private finish(reader: BodyReader): void {
    reader.live = false;
    if (reader.wanting) {
      reader.wanting = false;
      this.wanting -= 1;
    }
    reader.push(null);
    if (!this.delivering) this.removeGone();
  }

  private fail(error: ReplayBodyError): void {
    this.state = 'failed';
    this.failure = error;
    this.retryable = false;
    this.letGoOfAll();
    const readers = this.readers;
    this.readers = [];
    this.wanting = 0;
    this.flowing = false;
    for (const reader of readers) {
      if (!reader.live) continue;
      reader.live = false;
      reader.destroy(error);
    }
  }

  private pauseIfUnwanted(): void {
    if (this.wanting > 0 || !this.flowing) return;
    this.flowing = false;
    if (this.state === 'open') this.source.pause();
  }

  /** Drops readers that ended, failed or were destroyed, in place. */
  private removeGone(): void {
    const readers = this.readers;
    let kept = 0;
    for (const reader of readers) if (reader.live) readers[kept++] = reader;
    readers.length = kept;
  }
}

function outrun(): ReplayBodyError {
  return new ReplayBodyError('outrun', 'the request body outgrew the replay buffer while another attempt was further along in it');
}

function cutOff(): ReplayBodyError {
  return new ReplayBodyError('client_failed', "the client's request body was cut off before its end");
}
