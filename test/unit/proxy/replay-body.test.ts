import { Readable, Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayBufferTracker } from '../../../src/proxy/call/replay-buffer-tracker.ts';
import { replayBody, ReplayBodyError, type ReplayBody, type ReplayLimits } from '../../../src/proxy/call/replay-body.ts';

const KiB = 1024;

/** A client's request stream: hands out `body` in `chunkSizes`-sized pieces only when read, and counts what was read. */
class ClientBody extends Readable {
  produced = 0;
  private readonly pieces: Buffer[];

  constructor(body: Buffer, chunkSizes: readonly number[] = [16 * KiB]) {
    super({ highWaterMark: 16 * KiB });
    this.pieces = cut(body, chunkSizes);
  }

  override _read(): void {
    const piece = this.pieces.shift();
    if (piece === undefined) {
      this.push(null);
      return;
    }
    this.produced += piece.length;
    this.push(piece);
  }
}

/** `body` cut into pieces of the given sizes, then of the last one or 16 KiB, whichever is larger. */
function cut(body: Buffer, sizes: readonly number[]): Buffer[] {
  const pieces: Buffer[] = [];
  const then = Math.max(16 * KiB, sizes.at(-1) ?? 0);
  let at = 0;
  for (let i = 0; at < body.length; i += 1) {
    const size = i < sizes.length ? Math.max(1, sizes[i] ?? 1) : then;
    pieces.push(body.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

function bytes(length: number, seed = 1): Buffer {
  const body = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    body[i] = x & 0xff;
  }
  return body;
}

function limits(perCall: number, shared = 1024 * 1024 * 1024): ReplayLimits & { shared: ReplayBufferTracker } {
  return { perCall, shared: new ReplayBufferTracker(shared) };
}

function readerOf(body: ReplayBody): Readable {
  const reader = body.reader();
  if (reader === null) throw new Error('expected a reader');
  return reader.readable();
}

async function readAll(reader: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of reader) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads `count` bytes or more from a paused reader, as its consumer would. */
async function readAtLeast(reader: Readable, count: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  while (got < count) {
    const chunk = reader.read() as Buffer | null;
    if (chunk === null) {
      await new Promise((resolve) => reader.once('readable', resolve));
      continue;
    }
    chunks.push(chunk);
    got += chunk.length;
  }
  return Buffer.concat(chunks);
}

async function failureOf(reader: Readable): Promise<ReplayBodyError> {
  const error = await readAll(reader).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof ReplayBodyError)) throw new Error(`expected a ReplayBodyError, got ${String(error)}`);
  return error;
}

async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i += 1) await nextTurn();
}

describe('a request body teed for replay', () => {
  it('is read from the client only as fast as its reader reads', async () => {
    const body = bytes(1024 * KiB);
    const client = new ClientBody(body);
    const replay = replayBody(client, limits(64 * KiB));
    const reader = readerOf(replay);

    const first = await readAtLeast(reader, 16 * KiB);
    await settle();
    // The client's 16 KiB buffer, the reader's 16 KiB and the chunk in between: not the whole body.
    expect(client.produced).toBeLessThanOrEqual(64 * KiB);

    const rest = await readAll(reader);
    expect(Buffer.concat([first, rest]).equals(body)).toBe(true);
    expect(client.produced).toBe(body.length);
  });

  it('under the cap, replays exactly to a second reader, and gives the bytes back on release', async () => {
    const body = bytes(50 * KiB);
    const limit = limits(64 * KiB);
    const replay = replayBody(new ClientBody(body, [1000, 7 * KiB]), limit);

    expect((await readAll(readerOf(replay))).equals(body)).toBe(true);
    expect(replay.retryable).toBe(true);
    expect(limit.shared.bytesHeld).toBe(body.length);
    expect((await readAll(readerOf(replay))).equals(body)).toBe(true);

    replay.release();
    expect(limit.shared.bytesHeld).toBe(0);
    expect(replay.retryable).toBe(false);
  });

  it('past the cap, streams whole to its one reader, is not retryable, and holds nothing', async () => {
    const body = bytes(200 * KiB);
    const limit = limits(64 * KiB);
    const replay = replayBody(new ClientBody(body), limit);
    const reader = readerOf(replay);

    const start = await readAtLeast(reader, 100 * KiB);
    expect(replay.retryable).toBe(false);
    // Let go of at once, not at the call's end.
    expect(limit.shared.bytesHeld).toBe(0);
    const rest = await readAll(reader);
    expect(Buffer.concat([start, rest]).equals(body)).toBe(true);

    expect((await failureOf(readerOf(replay))).reason).toBe('not_held');
  });

  it('gives two readers, the second started mid-body, every byte in order', async () => {
    const body = bytes(300 * KiB);
    const replay = replayBody(new ClientBody(body, new Array<number>(70).fill(5000)), limits(1024 * KiB));
    const first = readerOf(replay);
    const firstStart = await readAtLeast(first, 120 * KiB);

    const second = readerOf(replay);
    const [firstRest, secondAll] = await Promise.all([readAll(first), readAll(second)]);

    expect(Buffer.concat([firstStart, firstRest]).equals(body)).toBe(true);
    expect(secondAll.equals(body)).toBe(true);
  });

  it('past the cap, keeps the reader furthest along and fails the one behind with "outrun"', async () => {
    const body = bytes(200 * KiB);
    const limit = limits(64 * KiB);
    const replay = replayBody(new ClientBody(body), limit);
    const ahead = readerOf(replay);
    const aheadStart = await readAtLeast(ahead, 32 * KiB);
    const behind = readerOf(replay);
    await readAtLeast(behind, 1);

    const aheadRest = await readAll(ahead);

    expect(Buffer.concat([aheadStart, aheadRest]).equals(body)).toBe(true);
    expect((await failureOf(behind)).reason).toBe('outrun');
    expect(replay.retryable).toBe(false);
    expect(limit.shared.bytesHeld).toBe(0);
  });

  it('fails the reader left behind rather than give it a body with a gap, when the one ahead is dropped as the cap is passed', async () => {
    const body = bytes(100 * KiB);
    const replay = replayBody(new ClientBody(body), limits(40 * KiB));
    const behind = readerOf(replay);
    await readAtLeast(behind, 1);
    const ahead = readerOf(replay);
    let got = 0;
    // Its attempt is cancelled in the very delivery of the chunk that does not fit.
    ahead.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got > 40 * KiB) ahead.destroy();
    });
    await new Promise((resolve) => ahead.once('close', resolve));

    expect(replay.retryable).toBe(false);
    expect((await failureOf(behind)).reason).toBe('outrun');
  });

  it('reads on for the others when a reader is dropped, and replays whole to a reader after all were dropped', async () => {
    const body = bytes(100 * KiB);
    const client = new ClientBody(body);
    const replay = replayBody(client, limits(128 * KiB));
    const kept = readerOf(replay);
    const dropped = readerOf(replay);
    await readAtLeast(dropped, 10 * KiB);
    dropped.destroy();

    expect((await readAll(kept)).equals(body)).toBe(true);
    expect(replay.retryable).toBe(true);

    const client2 = new ClientBody(body);
    const replay2 = replayBody(client2, limits(128 * KiB));
    const cancelled = readerOf(replay2);
    await readAtLeast(cancelled, 20 * KiB);
    cancelled.destroy();
    await settle();
    const producedWhileNobodyReads = client2.produced;
    await settle();
    expect(client2.produced).toBe(producedWhileNobodyReads);
    expect((await readAll(readerOf(replay2))).equals(body)).toBe(true);
  });

  it('does not wait for a reader that stopped reading while another reads on, nor fill that one up', async () => {
    const body = bytes(100 * KiB);
    const replay = replayBody(new ClientBody(body), limits(128 * KiB));
    const stalled = readerOf(replay);
    const reading = readerOf(replay);
    await readAtLeast(stalled, 1);

    expect((await readAll(reading)).equals(body)).toBe(true);
    // What it has not asked for stays in the replay buffer, not in its own.
    expect(stalled.readableLength).toBeLessThanOrEqual(32 * KiB);
    expect((await readAll(stalled)).length).toBeGreaterThan(0);
  });

  it('passes a client error to every reader, gives its bytes back, and fails later readers too', async () => {
    const client = new Readable({ read: () => undefined });
    const limit = limits(64 * KiB);
    const replay = replayBody(client, limit);
    const first = readerOf(replay);
    const second = readerOf(replay);
    const failures = Promise.all([failureOf(first), failureOf(second)]);
    client.push(bytes(1000));
    await settle();
    expect(limit.shared.bytesHeld).toBe(1000);
    client.destroy(new Error('aborted'));

    for (const failure of await failures) {
      expect(failure.reason).toBe('client_failed');
      expect((failure.cause as Error).message).toBe('aborted');
    }
    expect(replay.retryable).toBe(false);
    expect(limit.shared.bytesHeld).toBe(0);
    expect((await failureOf(readerOf(replay))).reason).toBe('client_failed');
  });

  it('fails its readers when the client stream closes before its end without an error (an HTTP/2 RST_STREAM CANCEL)', async () => {
    const client = new Readable({ read: () => undefined });
    const replay = replayBody(client, limits(64 * KiB));
    const reader = readerOf(replay);
    const failure = failureOf(reader);
    client.push(bytes(10));
    await settle();
    client.destroy();

    expect((await failure).reason).toBe('client_failed');
  });

  it('shares the global cap across calls, and a body gives its share back on release, on commit and on failure', async () => {
    const shared = new ReplayBufferTracker(100 * KiB);
    const call = (body: Buffer, client: Readable = new ClientBody(body)): ReplayBody => replayBody(client, { perCall: 64 * KiB, shared });

    const one = call(bytes(60 * KiB));
    await readAll(readerOf(one));
    const two = call(bytes(60 * KiB, 2));
    const twoBody = await readAll(readerOf(two));
    // Under its own 64 KiB, but only 40 KiB of the shared 100 KiB were left.
    expect(one.retryable).toBe(true);
    expect(two.retryable).toBe(false);
    expect(twoBody.equals(bytes(60 * KiB, 2))).toBe(true);
    expect(shared.bytesHeld).toBe(60 * KiB);

    one.release();
    expect(shared.bytesHeld).toBe(0);

    const three = call(bytes(60 * KiB, 3));
    await readAll(readerOf(three));
    expect(three.retryable).toBe(true);
    expect(shared.bytesHeld).toBe(60 * KiB);
    three.commit();
    expect(three.retryable).toBe(false);
    expect(shared.bytesHeld).toBe(0);

    const client = new Readable({ read: () => undefined });
    const four = call(Buffer.alloc(0), client);
    const failure = failureOf(readerOf(four));
    client.push(bytes(30 * KiB));
    await settle();
    expect(shared.bytesHeld).toBe(30 * KiB);
    client.destroy(new Error('reset'));
    await failure;
    expect(shared.bytesHeld).toBe(0);
  });

  it('after commit, holds only what the reader still lacks and streams on', async () => {
    const body = bytes(200 * KiB);
    const limit = limits(64 * KiB);
    const replay = replayBody(new ClientBody(body), limit);
    const reader = readerOf(replay);
    const start = await readAtLeast(reader, 20 * KiB);
    replay.commit();

    expect(replay.retryable).toBe(false);
    expect(limit.shared.bytesHeld).toBe(0);
    expect(Buffer.concat([start, await readAll(reader)]).equals(body)).toBe(true);
    expect((await failureOf(readerOf(replay))).reason).toBe('not_held');
  });

  it('on release, destroys a reader still mid-body and leaves the client stream paused with its bytes', async () => {
    const body = bytes(100 * KiB);
    const client = new ClientBody(body);
    const limit = limits(64 * KiB);
    const replay = replayBody(client, limit);
    const reader = readerOf(replay);
    await readAtLeast(reader, 1);
    replay.release();

    expect(reader.destroyed).toBe(true);
    expect(limit.shared.bytesHeld).toBe(0);
    expect(client.isPaused()).toBe(true);
    expect(client.listenerCount('data')).toBe(0);
  });

  it('costs nothing for a request without a body, and ends at once for an empty one', async () => {
    const limit = limits(64 * KiB);
    expect(replayBody(null, limit)).toBe(replayBody(null, limit));
    expect(replayBody(null, limit).reader()).toBeNull();
    expect(replayBody(null, limit).retryable).toBe(true);

    const empty = replayBody(new ClientBody(Buffer.alloc(0)), limit);
    expect((await readAll(readerOf(empty))).length).toBe(0);
    expect((await readAll(readerOf(empty))).length).toBe(0);
    expect(empty.retryable).toBe(true);
    expect(limit.shared.bytesHeld).toBe(0);
  });
});

/** A tracker that remembers the most it ever held. */
class WatchedTracker extends ReplayBufferTracker {
  most = 0;
  override tryHold(count: number): boolean {
    const held = super.tryHold(count);
    this.most = Math.max(this.most, this.bytesHeld);
    return held;
  }
}

/** A request stream that takes `perTurn` writes' worth before it pushes back, a turn at a time, as an HTTP/2 stream waiting on its window does. */
class SlowTarget extends Writable {
  readonly chunks: Buffer[] = [];
  ended = false;

  constructor() {
    super({ highWaterMark: 8 * KiB });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    setImmediate(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ended = true;
    callback();
  }

  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function finished(target: SlowTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    target.once('finish', resolve);
    target.once('error', reject);
  });
}

describe('a request body written straight into a request stream', () => {
  it('writes the whole body with back-pressure and ends the stream, and replays it whole to a second one', async () => {
    const body = bytes(200 * KiB);
    const client = new ClientBody(body, [3000, 9 * KiB]);
    const replay = replayBody(client, limits(256 * KiB));
    const first = new SlowTarget();
    const errors: Error[] = [];
    replay.reader()!.writeTo(first, (e) => errors.push(e));
    await settle(3);
    // Back-pressure: the client is read only as fast as the stream takes it.
    expect(client.produced).toBeLessThan(100 * KiB);
    await finished(first);
    expect(first.received.equals(body)).toBe(true);

    const second = new SlowTarget();
    replay.reader()!.writeTo(second, (e) => errors.push(e));
    await finished(second);
    expect(second.received.equals(body)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('serves a stream and a Readable at once (a hedge), each the whole body', async () => {
    const body = bytes(120 * KiB);
    const replay = replayBody(new ClientBody(body, new Array<number>(30).fill(4096)), limits(1024 * KiB));
    const target = new SlowTarget();
    replay.reader()!.writeTo(target, () => undefined);
    const [readable] = await Promise.all([readAll(readerOf(replay)), finished(target)]);
    expect(readable.equals(body)).toBe(true);
    expect(target.received.equals(body)).toBe(true);
  });

  it('tells the stream behind that it was outrun past the cap, and one taken after the cap that the body is not held', async () => {
    const body = bytes(200 * KiB);
    const replay = replayBody(new ClientBody(body), limits(64 * KiB));
    const ahead = readerOf(replay);
    await readAtLeast(ahead, 32 * KiB);
    const behind = new SlowTarget();
    const failures: string[] = [];
    const cork = new Writable({ highWaterMark: 1, write: () => undefined });
    replay.reader()!.writeTo(cork, (e) => failures.push(e.reason));
    await readAll(ahead);
    expect(failures).toEqual(['outrun']);
    replay.reader()!.writeTo(behind, (e) => failures.push(e.reason));
    expect(failures).toEqual(['outrun', 'not_held']);
    expect(behind.chunks).toEqual([]);
  });

  it('stops writing once the attempt destroys its reader, and the others read on', async () => {
    const body = bytes(100 * KiB);
    const replay = replayBody(new ClientBody(body, new Array<number>(25).fill(4096)), limits(128 * KiB));
    const dropped = new SlowTarget();
    const reader = replay.reader()!;
    reader.writeTo(dropped, () => undefined);
    await settle(2);
    reader.destroy();
    const written = dropped.received.length;
    expect((await readAll(readerOf(replay))).equals(body)).toBe(true);
    await settle(3);
    expect(dropped.received.length).toBe(written);
    expect(dropped.ended).toBe(false);
  });
});

describe('a request body teed for replay, for any body, chunking and cap', () => {
  it('gives every reader that is not outrun exactly the body, in order, and never holds more than the cap', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 300 * KiB }),
        fc.integer({ min: 1 }),
        fc.array(fc.integer({ min: 1, max: 70 * KiB }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 400 * KiB }),
        fc.integer({ min: 0, max: 400 * KiB }),
        // Where in the body the second reader starts, in thousandths; none for one reader.
        fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
        async (length, seed, chunkSizes, perCall, sharedCap, secondAt, pauses) => {
          const body = bytes(length, seed);
          const secondAfter = secondAt === undefined ? undefined : Math.floor((length * secondAt) / 1000);
          const shared = new WatchedTracker(sharedCap);
          const replay = replayBody(new ClientBody(body, chunkSizes), { perCall, shared });
          const cap = Math.min(perCall, sharedCap);

          let started = 0;
          const results: Promise<Buffer | ReplayBodyError>[] = [];
          const consume = async (reader: Readable, pauseOffset: number): Promise<Buffer | ReplayBodyError> => {
            const chunks: Buffer[] = [];
            let n = pauseOffset;
            try {
              for await (const chunk of reader) {
                chunks.push(chunk as Buffer);
                started += (chunk as Buffer).length;
                if (secondAfter !== undefined && results.length === 1 && started >= secondAfter) {
                  results.push(consume(readerOf(replay), 1));
                }
                for (let i = pauses[n++ % pauses.length] ?? 0; i > 0; i -= 1) await nextTurn();
              }
            } catch (err) {
              if (err instanceof ReplayBodyError) return err;
              throw err;
            }
            return Buffer.concat(chunks);
          };
          results.push(consume(readerOf(replay), 0));
          await results[0];
          if (secondAfter !== undefined && results.length === 1) results.push(consume(readerOf(replay), 1));
          const outcomes = await Promise.all(results);

          expect(shared.most).toBeLessThanOrEqual(cap);
          const whole = outcomes.filter((o): o is Buffer => Buffer.isBuffer(o));
          expect(whole.length).toBeGreaterThanOrEqual(1);
          for (const o of whole) expect(o.equals(body)).toBe(true);
          for (const o of outcomes) {
            if (Buffer.isBuffer(o)) continue;
            // Only a body past the cap fails a reader: one behind (outrun) or one asked for after the body was let go of.
            expect(replay.retryable).toBe(false);
            expect(['outrun', 'not_held']).toContain(o.reason);
          }
          if (length <= cap) {
            expect(replay.retryable).toBe(true);
            expect(whole.length).toBe(outcomes.length);
          }
          replay.release();
          expect(shared.bytesHeld).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
