import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { ExchangeError } from '../../../src/gossip/exchange-error.ts';
import { generateGossipKey, Keyring } from '../../../src/gossip/keyring.ts';
import { SEALED_OVERHEAD, SealedTransport } from '../../../src/gossip/sealed-transport.ts';
import type { Transport, TransportHandlers } from '../../../src/gossip/transport.ts';
import { CountingWireMetrics, RecordingHandlers } from '../../helpers/gossip-wire.ts';
import { hostileFrame, pingPacket, reasonCounts, sealFrames } from '../../helpers/fuzz/gossip-frames.ts';

const MAX = 1400;

/** The wire between two members: what is sent is recorded and handed straight to the other side. */
class Wire {
  readonly datagrams: Buffer[] = [];
  readonly requests: Buffer[] = [];
  readonly a = this.end('10.0.0.1:7946', () => this.b);
  readonly b = this.end('10.0.0.2:7946', () => this.a);
  private readonly handlers = new Map<string, TransportHandlers>();

  /** Delivers raw bytes to `to` as a datagram from an attacker. */
  inject(to: Transport, bytes: Uint8Array): void {
    this.handlers.get(to.localAddress)!.packet('10.0.0.66:4000', bytes);
  }

  /** Sends raw bytes to `to` as an exchange request from an attacker. */
  injectRequest(to: Transport, bytes: Uint8Array): Promise<Uint8Array | undefined> {
    return this.handlers.get(to.localAddress)!.exchange('10.0.0.66:4000', bytes);
  }

  private end(localAddress: string, peer: () => Transport): Transport {
    return {
      localAddress,
      maxPacketSize: MAX,
      listen: (handlers) => {
        this.handlers.set(localAddress, handlers);
        return Promise.resolve();
      },
      sendPacket: (_to, data) => {
        this.datagrams.push(Buffer.from(data));
        this.handlers.get(peer().localAddress)!.packet(localAddress, data);
      },
      exchange: async (_to, request) => {
        this.requests.push(Buffer.from(request));
        const answer = await this.handlers.get(peer().localAddress)!.exchange(localAddress, request);
        if (answer === undefined) throw new ExchangeError('MESHLET_GOSSIP_NO_ANSWER', 'no answer');
        return answer;
      },
      close: () => Promise.resolve(),
    };
  }
}

interface Member {
  readonly sealed: SealedTransport;
  readonly metrics: CountingWireMetrics;
  readonly packets: Buffer[];
  readonly requests: Buffer[];
}

async function member(inner: Transport, keyring: Keyring): Promise<Member> {
  const metrics = new CountingWireMetrics();
  const sealed = new SealedTransport(inner, { keyring, metrics, clock: new FakeClock() });
  const handlers = new RecordingHandlers();
  await sealed.listen(handlers);
  return { sealed, metrics, packets: handlers.packets, requests: handlers.requests };
}

async function pair(keys: { a: string[]; b: string[] } = { a: [KEY], b: [KEY] }) {
  const wire = new Wire();
  return { wire, a: await member(wire.a, new Keyring(keys.a)), b: await member(wire.b, new Keyring(keys.b)) };
}

const KEY = generateGossipKey();

describe('SealedTransport', () => {
  it('delivers datagrams and exchanges in plaintext to the protocol, and only ciphertext on the wire', async () => {
    const { wire, a, b } = await pair();
    const ping = pingPacket(1);
    a.sealed.sendPacket(b.sealed.localAddress, ping);
    expect(b.packets).toEqual([Buffer.from(ping)]);
    expect(wire.datagrams[0]!.length).toBe(ping.length + SEALED_OVERHEAD);
    expect(wire.datagrams[0]!.includes(Buffer.from('fuzzer'))).toBe(false);

    const answer = await a.sealed.exchange(b.sealed.localAddress, Buffer.from('push-pull state'), 1000);
    expect(Buffer.from(answer).toString()).toBe('re: push-pull state');
    expect(b.requests.map(String)).toEqual(['push-pull state']);
    expect(wire.requests[0]!.includes(Buffer.from('push-pull'))).toBe(false);
    expect(a.metrics.droppedTotal() + b.metrics.droppedTotal()).toBe(0);
  });

  it('leaves room for the seal: the protocol packs up to the inner limit minus the overhead', async () => {
    const { wire, a, b } = await pair();
    expect(a.sealed.maxPacketSize).toBe(MAX - SEALED_OVERHEAD);
    a.sealed.sendPacket(b.sealed.localAddress, new Uint8Array(a.sealed.maxPacketSize));
    expect(wire.datagrams[0]!.length).toBe(MAX);
    a.sealed.sendPacket(b.sealed.localAddress, new Uint8Array(a.sealed.maxPacketSize + 1));
    expect(wire.datagrams).toHaveLength(1);
    expect(a.metrics.notSent).toEqual({ oversize: 1 });
  });

  it('drops a byte-identical copy of a datagram, and of an exchange request, as a replay', async () => {
    const { wire, a, b } = await pair();
    a.sealed.sendPacket(b.sealed.localAddress, pingPacket(1));
    await a.sealed.exchange(b.sealed.localAddress, Buffer.from('state'), 1000);
    wire.inject(b.sealed, wire.datagrams[0]!);
    expect(await wire.injectRequest(b.sealed, wire.requests[0]!)).toBeUndefined();
    // A captured datagram replayed as an exchange request is a replay too.
    a.sealed.sendPacket(b.sealed.localAddress, pingPacket(2));
    expect(await wire.injectRequest(b.sealed, wire.datagrams[1]!)).toBeUndefined();
    expect(b.packets).toHaveLength(2);
    expect(b.requests).toHaveLength(1);
    expect(b.metrics.dropped).toEqual({ replay: 3 });
  });

  it('accepts datagrams reordered on the wire, and a restarted sender', async () => {
    const { wire, b } = await pair();
    const frames = sealFrames(KEY, [1, 2, 3, 4].map(pingPacket));
    for (const i of [2, 0, 3, 1]) wire.inject(b.sealed, frames[i]!);
    const restarted = sealFrames(KEY, [pingPacket(1)]);
    wire.inject(b.sealed, restarted[0]!);
    expect(b.packets).toHaveLength(5);
    expect(b.metrics.droppedTotal()).toBe(0);
  });

  it('refuses an answer that does not open, and counts it', async () => {
    // b has moved on to a key a does not hold yet: b still opens a's request, a not b's answer.
    const next = generateGossipKey();
    const { a, b } = await pair({ a: [KEY], b: [next, KEY] });
    const failure = await a.sealed.exchange(b.sealed.localAddress, Buffer.from('state'), 1000).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExchangeError);
    expect((failure as ExchangeError).code).toBe('MESHLET_GOSSIP_ANSWER_DROPPED');
    expect(b.requests).toHaveLength(1);
    expect(a.metrics.dropped).toEqual({ decrypt: 1 });
  });

  it('never hands the protocol a hostile datagram or exchange request, and counts each by reason', async () => {
    const { wire, a, b } = await pair();
    for (let i = 0; i < 8; i++) a.sealed.sendPacket(b.sealed.localAddress, pingPacket(i));
    const delivered = wire.datagrams.slice();
    // The fake wire, unlike UDP, enforces no size limit: oversize is the real transport's.
    const frames = fc.array(hostileFrame({ delivered, maxPacketSize: MAX }).filter((f) => f.reason !== 'oversize'), { maxLength: 20 });
    await fc.assert(fc.asyncProperty(frames, fc.boolean(), async (batch, asRequests) => {
      const before = { ...b.metrics.dropped };
      for (const frame of batch) {
        if (asRequests) expect(await wire.injectRequest(b.sealed, frame.bytes)).toBeUndefined();
        else wire.inject(b.sealed, frame.bytes);
      }
      expect(b.packets).toHaveLength(8);
      expect(b.requests).toHaveLength(0);
      expect(b.metrics.droppedSince(before)).toEqual(reasonCounts(batch));
    }), { numRuns: 200 });
  });
});
