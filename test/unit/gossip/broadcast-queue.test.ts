import { describe, expect, it } from 'vitest';
import { BroadcastQueue } from '../../../src/gossip/broadcast-queue.ts';
import { decodePacket, encodeMessage } from '../../../src/gossip/codec.ts';
import { EMPTY_META, type GossipMessage } from '../../../src/gossip/messages.ts';

const alive = (node: string, incarnation = 1): GossipMessage => ({ type: 'alive', node, incarnation, addr: '10.0.0.1:7946', meta: EMPTY_META });
const nodesIn = (entries: Uint8Array[]) => decodePacket(Buffer.concat(entries)).map((m) => ('node' in m ? `${m.node}@${'incarnation' in m ? m.incarnation : ''}` : m.type));

describe('BroadcastQueue', () => {
  it('replaces an older message about a member with the newer one', () => {
    const done: string[] = [];
    const q = new BroadcastQueue(() => 3, 100);
    q.enqueue('a', alive('a', 1), () => done.push('a1'));
    q.enqueue('b', alive('b', 1));
    q.enqueue('a', { type: 'suspect', node: 'a', incarnation: 1, from: 'c' });
    expect(q.length).toBe(2);
    expect(done).toEqual(['a1']);
    expect(nodesIn(q.take(1400))).toEqual(['b@1', 'a@1']);
  });

  it('sends the least-sent first and drops a message after the retransmit limit', () => {
    const done: string[] = [];
    const q = new BroadcastQueue(() => 2, 100);
    q.enqueue('a', alive('a'), () => done.push('a'));
    const one = encodeMessage(alive('a')).length;
    expect(nodesIn(q.take(one))).toEqual(['a@1']);
    q.enqueue('b', alive('b'));
    expect(nodesIn(q.take(one))).toEqual(['b@1']);
    expect(nodesIn(q.take(2 * one))).toEqual(['a@1', 'b@1']);
    expect(done).toEqual(['a']);
    expect(q.length).toBe(0);
    expect(q.take(1400)).toEqual([]);
  });

  it('packs only what fits in the room left, skipping what is too big', () => {
    const q = new BroadcastQueue(() => 5, 100);
    const big: GossipMessage = { type: 'alive', node: 'big', incarnation: 1, addr: '10.0.0.1:7946', meta: { ...EMPTY_META, version: 'v'.repeat(200) } };
    q.enqueue('big', big);
    q.enqueue('a', alive('a'));
    const room = encodeMessage(alive('a')).length + 10;
    expect(nodesIn(q.take(room))).toEqual(['a@1']);
    expect(q.take(5)).toEqual([]);
  });

  it('beyond its cap drops the most-sent, oldest message', () => {
    const q = new BroadcastQueue(() => 10, 2);
    q.enqueue('a', alive('a'));
    q.take(1400);
    q.enqueue('b', alive('b'));
    q.enqueue('c', alive('c'));
    expect(q.length).toBe(2);
    expect(nodesIn(q.take(1400)).sort()).toEqual(['b@1', 'c@1']);
  });
});
