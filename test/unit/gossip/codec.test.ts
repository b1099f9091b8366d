import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DECODE_LIMITS, decodePacket, encodeMessage, encodePacket, GossipDecodeError } from '../../../src/gossip/codec.ts';
import type { GossipMessage, MemberMeta } from '../../../src/gossip/messages.ts';

const meta: MemberMeta = {
  services: [{ name: 'orders', address: '127.0.0.1:15006', protocol: 'http', weight: 3, zone: 'a', health: 'passing' }],
  draining: true,
  version: '0.1.0',
};

const every: GossipMessage[] = [
  { type: 'ping', seqNo: 7, node: 'b', sourceNode: 'a', sourceAddr: '127.0.0.1:7946' },
  { type: 'ping-req', seqNo: 8, node: 'c', addr: '127.0.0.3:7946', sourceNode: 'a', sourceAddr: '127.0.0.1:7946', nack: true },
  { type: 'ack', seqNo: 7 },
  { type: 'nack', seqNo: 8 },
  { type: 'alive', node: 'a', incarnation: 4, addr: '[::1]:7946', meta },
  { type: 'suspect', node: 'c', incarnation: 2, from: 'a' },
  { type: 'dead', node: 'c', incarnation: 2, from: 'b' },
  { type: 'leave', node: 'd', incarnation: 9 },
  { type: 'push-pull', join: true, members: [{ node: 'a', addr: '127.0.0.1:7946', incarnation: 4, status: 'suspect', meta }] },
];

describe('gossip codec', () => {
  it('round-trips every message type in one packet', () => {
    expect(decodePacket(encodePacket(every))).toEqual(every);
  });

  it('makes a packet of concatenated message encodings', () => {
    const joined = Buffer.concat(every.map(encodeMessage));
    expect(Buffer.from(joined)).toEqual(Buffer.from(encodePacket(every)));
    expect(decodePacket(joined)).toEqual(every);
  });

  it('refuses what the protocol must not see', () => {
    const refused = (messages: unknown[]) => () => decodePacket(encodePacket(messages as GossipMessage[]));
    expect(() => decodePacket(new Uint8Array())).toThrow(GossipDecodeError);
    expect(() => decodePacket(Uint8Array.from([0x0a, 0xff]))).toThrow(GossipDecodeError);
    expect(refused([{ type: 'ping', seqNo: 1, node: '', sourceNode: 'a', sourceAddr: '127.0.0.1:1' }])).toThrow(/node name/);
    expect(refused([{ type: 'ping', seqNo: 1, node: 'b', sourceNode: 'a', sourceAddr: 'nowhere' }])).toThrow(/bad address/);
    expect(refused([{ type: 'ack', seqNo: 1 }, ...Array.from({ length: DECODE_LIMITS.messagesPerPacket }, () => ({ type: 'ack', seqNo: 1 }))])).toThrow(/messages in one packet/);
    expect(refused([{ type: 'leave', node: 'x'.repeat(DECODE_LIMITS.nameLength + 1), incarnation: 1 }])).toThrow(/characters/);
  });

  it('never throws anything but GossipDecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        try {
          decodePacket(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(GossipDecodeError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses or decodes every truncation and bit flip of a real packet', () => {
    const packet = encodePacket(every);
    fc.assert(
      fc.property(fc.nat(packet.length - 1), fc.nat(7), fc.boolean(), (at, bit, truncate) => {
        const bytes = truncate ? packet.slice(0, at) : Uint8Array.from(packet, (b, i) => (i === at ? b ^ (1 << bit) : b));
        try {
          decodePacket(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(GossipDecodeError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
