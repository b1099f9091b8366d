// fast-check generators of what a hostile network sends a gossip member: random bytes,
// sealed frames cut short, with a bit flipped, sealed under a key the mesh does not hold, with
// an unknown version, byte-identical copies of frames already delivered, and datagrams over
// the size limit. Each comes with the drop reason the sealed transport must count for it.
// Shared by the unit and integration tests and the bench fuzz target, which sends a million of
// them to a real agent. hostileStream does the same for the TCP side of the gossip port.
import fc from 'fast-check';
import { FakeClock } from '../../../src/clock.ts';
import { encodePacket } from '../../../src/gossip/codec.ts';
import { lengthPrefixed } from '../../../src/gossip/frame-reader.ts';
import { generateGossipKey, Keyring, SEAL_OVERHEAD } from '../../../src/gossip/keyring.ts';
import { SealedTransport } from '../../../src/gossip/sealed-transport.ts';
import type { Transport } from '../../../src/gossip/transport.ts';
import { EMPTY_META } from '../../../src/gossip/messages.ts';
import type { DropReason, StreamRefusal } from '../../../src/gossip/wire-metrics.ts';
import { CountingWireMetrics } from '../gossip-wire.ts';

export interface HostileFrame {
  readonly kind: 'random' | 'truncated' | 'bit-flip' | 'wrong-key' | 'version' | 'replay' | 'oversize';
  readonly bytes: Buffer;
  /** What the receiver must count it as. */
  readonly reason: DropReason;
}

/** What a hostile frame is made from. */
export interface FrameSource {
  /** Frames sealed under the mesh's key, already delivered once: replays copy them, flips corrupt them. */
  readonly delivered: readonly Buffer[];
  /** The receiving transport's datagram limit (sealed bytes on the wire). */
  readonly maxPacketSize: number;
}

/**
 * A gossip packet as a real member sends it: what sealed frames carry in these tests. With
 * `count`, a compound packet of that many pings (38 bytes each, so 34 fill a datagram); each is
 * meant for a node no receiver is, so a receiver that opens it answers none of them.
 */
export function pingPacket(seqNo: number, count = 1): Uint8Array {
  return encodePacket(Array.from({ length: count }, (_, i) => ({ type: 'ping' as const, seqNo: seqNo + i, node: 'target', sourceNode: 'fuzzer', sourceAddr: '127.0.0.1:7946' })));
}

/** A push-pull that would add `node` to whoever merges it: what an outsider would like to get in. */
export function intruderPushPull(node: string, addr: string): Uint8Array {
  return encodePacket([{ type: 'push-pull', join: true, members: [{ node, addr, incarnation: 1, status: 'alive', meta: EMPTY_META }] }]);
}

/** An alive about `node`: opened by a member, it adds `node` to the membership. */
export function intruderAlive(node: string, addr: string): Uint8Array {
  return encodePacket([{ type: 'alive', node, incarnation: 1, addr, meta: EMPTY_META }]);
}

/**
 * Frames as a member holding `key` seals them (each call a new sender epoch): datagrams for
 * sendPacket, in order. Send them once to make them "delivered".
 */
export function sealFrames(key: string, payloads: readonly Uint8Array[]): Buffer[] {
  const frames: Buffer[] = [];
  const recorder: Transport = {
    localAddress: '127.0.0.1:1',
    maxPacketSize: 65_507,
    listen: () => Promise.resolve(),
    sendPacket: (_to, data) => void frames.push(Buffer.from(data)),
    exchange: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
  };
  const sealed = new SealedTransport(recorder, { keyring: new Keyring([key]), metrics: new CountingWireMetrics(), clock: new FakeClock() });
  for (const payload of payloads) sealed.sendPacket('127.0.0.1:2', payload);
  return frames;
}

/** The reason a frame of arbitrary bytes is dropped for: it cannot authenticate. */
export function reasonForGarbage(bytes: Uint8Array, maxPacketSize: number): DropReason {
  if (bytes.length > maxPacketSize) return 'oversize';
  if (bytes.length < SEAL_OVERHEAD) return 'truncated';
  return bytes[0] === 1 ? 'decrypt' : 'version';
}

// A key no member holds, drawn once.
export const strangerKey = generateGossipKey();

export function hostileFrame(source: FrameSource): fc.Arbitrary<HostileFrame> {
  const { delivered, maxPacketSize } = source;
  const capture = fc.constantFrom(...delivered);
  const garbage = (kind: HostileFrame['kind']) => (bytes: Buffer): HostileFrame => ({ kind, bytes, reason: reasonForGarbage(bytes, maxPacketSize) });
  // Lengths over the whole range up to the limit, not only fast-check's small default sizes.
  const anyLength = { maxLength: maxPacketSize, size: 'max' } as const;
  return fc.oneof(
    fc.uint8Array({ maxLength: maxPacketSize }).map((a) => garbage('random')(Buffer.from(a))),
    fc.uint8Array(anyLength).map((a) => garbage('random')(Buffer.from(a))),
    // Random bytes behind a valid version byte get as far as the tag check.
    fc.uint8Array({ ...anyLength, minLength: SEAL_OVERHEAD }).map((a) => garbage('random')(Buffer.concat([Buffer.of(1), a.subarray(1)]))),
    fc.tuple(capture, fc.nat()).map(([frame, n]) => garbage('truncated')(frame.subarray(0, n % frame.length))),
    fc.tuple(capture, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([frame, at, bit]) => {
      const flipped = Buffer.from(frame);
      flipped[at % flipped.length]! ^= 1 << bit;
      return garbage('bit-flip')(flipped);
    }),
    fc.nat(1000).map((seqNo) => ({ kind: 'wrong-key' as const, bytes: sealFrames(strangerKey, [pingPacket(seqNo)])[0]!, reason: 'decrypt' as const })),
    fc.tuple(capture, fc.integer({ min: 2, max: 255 })).map(([frame, version]) => {
      const other = Buffer.from(frame);
      other[0] = version;
      return { kind: 'version' as const, bytes: other, reason: 'version' as const };
    }),
    capture.map((frame) => ({ kind: 'replay' as const, bytes: Buffer.from(frame), reason: 'replay' as const })),
    fc.uint8Array({ minLength: maxPacketSize + 1, maxLength: maxPacketSize * 3 }).map((a) => ({ kind: 'oversize' as const, bytes: Buffer.from(a), reason: 'oversize' as const })),
  );
}

/** Counts per reason of a batch, as CountingWireMetrics.dropped holds them. */
export function reasonCounts(frames: readonly HostileFrame[]): Partial<Record<DropReason, number>> {
  const counts: Partial<Record<DropReason, number>> = {};
  for (const frame of frames) counts[frame.reason] = (counts[frame.reason] ?? 0) + 1;
  return counts;
}

/**
 * `count` hostile frames, drawn lazily in chunks from `seed`, for a load that would not fit
 * in memory at once (the bench sends a million to a real agent). Deliver `source.delivered`
 * first, or its replays count as whatever they are: frames a member sent.
 */
export function* hostileFrames(source: FrameSource, count: number, seed: number): Generator<HostileFrame> {
  const arbitrary = hostileFrame(source);
  const chunk = 10_000;
  for (let drawn = 0; drawn < count; drawn += chunk) {
    yield* fc.sample(arbitrary, { numRuns: Math.min(chunk, count - drawn), seed: seed + drawn });
  }
}

/** What an attacker does on one TCP connection to a gossip port. */
export interface HostileStream {
  readonly kind: 'oversize-length' | 'garbage-frame' | 'wrong-key' | 'truncated' | 'reset';
  /** Written at once after connecting. */
  readonly bytes: Buffer;
  /** 'wait' for the receiver to close the stream, 'end' the attacker's side first, or 'reset' it. */
  readonly finish: 'wait' | 'end' | 'reset';
  /**
   * What the receiver must count for it: a dropped frame, or a stream cut for an error (a
   * reset; counted as a truncated frame instead when the receiver reads the stream's end first).
   */
  readonly counted: { readonly drop: DropReason } | { readonly refused: StreamRefusal };
}

/**
 * Streams with a length prefix over `maxExchangeSize` (up to 4 GiB), complete frames of
 * garbage (with trailing bytes the receiver must ignore), push-pulls sealed under a key no
 * member holds, and any of those cut short and then ended or reset.
 */
export function hostileStream(maxExchangeSize: number): fc.Arbitrary<HostileStream> {
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.uint8Array({ minLength: SEAL_OVERHEAD, maxLength: 4096, size: 'max' }),
    // Behind a valid version byte, as far as the tag check.
    fc.uint8Array({ minLength: SEAL_OVERHEAD, maxLength: 4096, size: 'max' }).map((a) => Buffer.concat([Buffer.of(1), a.subarray(1)])),
    // Up to the limit, every byte of it read and tried against the keys.
    fc.integer({ min: 64 * 1024, max: maxExchangeSize }).map((n) => Buffer.alloc(n, 1)),
  );
  const garbageFrame = fc.tuple(body, fc.uint8Array({ maxLength: 64 })).map(([payload, trailing]) => ({
    bytes: Buffer.concat([lengthPrefixed(payload), trailing]),
    drop: reasonForGarbage(payload, Number.POSITIVE_INFINITY),
  }));
  const wrongKey = fc.nat(1000).map((n) => ({ bytes: lengthPrefixed(sealFrames(strangerKey, [intruderPushPull(`intruder-${n}`, `127.0.0.99:${1000 + n}`)])[0]!), drop: 'decrypt' as const }));
  const complete = fc.oneof(garbageFrame, wrongKey);
  return fc.oneof(
    fc.tuple(fc.oneof(fc.constant(0xffff_ffff), fc.integer({ min: maxExchangeSize + 1, max: 0xffff_ffff })), fc.uint8Array({ maxLength: 256 })).map(([length, after]) => {
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(length, 0);
      return { kind: 'oversize-length' as const, bytes: Buffer.concat([prefix, after]), finish: 'wait' as const, counted: { drop: 'oversize' as const } };
    }),
    garbageFrame.map(({ bytes, drop }) => ({ kind: 'garbage-frame' as const, bytes, finish: 'wait' as const, counted: { drop } })),
    wrongKey.map(({ bytes, drop }) => ({ kind: 'wrong-key' as const, bytes, finish: 'wait' as const, counted: { drop } })),
    fc.tuple(complete, fc.nat()).map(([{ bytes }, n]) => ({ kind: 'truncated' as const, bytes: cutShort(bytes, n), finish: 'end' as const, counted: { drop: 'truncated' as const } })),
    fc.tuple(complete, fc.nat()).map(([{ bytes }, n]) => ({ kind: 'reset' as const, bytes: cutShort(bytes, n), finish: 'reset' as const, counted: { refused: 'error' as const } })),
  );
}

/** The first bytes of a length-prefixed frame, short of its last byte (trailing bytes aside), so it never completes. */
function cutShort(frame: Buffer, n: number): Buffer {
  return frame.subarray(0, n % (4 + frame.readUInt32BE(0)));
}
