// Three real agents on 127.0.0.x that have converged; an attacker sends one of them
// fast-check-generated hostile datagrams and streams on its gossip port. What a user would
// notice: the agent never exits, drops are counted by reason in /metrics, no packet sealed
// under a key the mesh does not hold adds, suspects or kills a member, and afterwards every
// agent lists the same members with the same incarnations and no suspicion or death counted.
import fc from 'fast-check';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePacket } from '../../src/gossip/codec.ts';
import { lengthPrefixed } from '../../src/gossip/frame-reader.ts';
import { generateGossipKey } from '../../src/gossip/keyring.ts';
import { UDP_TRANSPORT_DEFAULTS } from '../../src/gossip/udp-transport.ts';
import {
  closed, connectTo, converged, countersSince, gossipCounters, GossipAttacker, membershipOf, playStream, startGossipAgents, STALL_SOURCE, streamCounts, within, type GossipAgent, type GossipCounters,
} from '../helpers/fuzz/gossip-attack.ts';
import { hostileFrame, hostileStream, intruderAlive, intruderPushPull, pingPacket, reasonCounts, sealFrames, strangerKey } from '../helpers/fuzz/gossip-frames.ts';
import { isAlive } from '../helpers/processes.ts';

const KEY = generateGossipKey();
/** Hostile datagrams sent between two acked pings: at most 16 × 4.2 kB, well within the 208 KiB receive buffer. */
const WINDOW = 16;

let agents: GossipAgent[] = [];
let target: GossipAgent;
let attacker: GossipAttacker;
let membershipBefore: string[][];
let countersBefore: GossipCounters[];
/** Held open from the start, each stalled at another point, until the agent cuts them. */
const stalls: net.Socket[] = [];

beforeAll(async () => {
  agents = await startGossipAgents({ count: 3, key: KEY, firstHost: 61, prefix: 'fuzz' });
  if (!(await within(15_000, () => converged(agents)))) throw new Error('the three agents did not converge within 15 s');
  target = agents[1]!;
  attacker = await GossipAttacker.start(target, KEY);
  membershipBefore = await Promise.all(agents.map((a) => membershipOf(a.agent)));
  countersBefore = await Promise.all(agents.map((a) => gossipCounters(a.agent)));
  const halfFrame = lengthPrefixed(Buffer.alloc(100)).subarray(0, 54);
  for (const bytes of [Buffer.alloc(0), Buffer.of(0, 0), halfFrame]) {
    const socket = await connectTo(target.gossip, STALL_SOURCE);
    socket.on('error', () => {});
    socket.write(bytes);
    stalls.push(socket);
  }
}, 30_000);

afterAll(async () => {
  for (const socket of stalls) socket.destroy();
  await attacker?.close();
  await Promise.all(agents.map((a) => a.agent.stop().catch(() => undefined)));
});

describe('hostile traffic to a converged agent gossip port', () => {
  it('counts every random, truncated, bit-flipped, wrongly keyed, replayed, wrong-version and oversized datagram by reason, and stays up', async () => {
    // Sealed under the mesh key, 1 to 31 pings meant for another node (60 to 1,239 bytes a frame): opened, and none answered.
    const delivered = sealFrames(KEY, Array.from({ length: 16 }, (_, i) => pingPacket(i * 100, 1 + 2 * i)));
    const first = await gossipCounters(target.agent);
    for (const frame of delivered) attacker.send(frame);
    await attacker.barrier();
    expect(countersSince(first.dropped, (await gossipCounters(target.agent)).dropped)).toEqual({ unexpected: 16 * 16 });
    const frames = fc.array(hostileFrame({ delivered, maxPacketSize: UDP_TRANSPORT_DEFAULTS.maxPacketSize }), { minLength: 1, maxLength: 64 });
    await fc.assert(
      fc.asyncProperty(frames, async (batch) => {
        const before = await gossipCounters(target.agent);
        for (let i = 0; i < batch.length; i += WINDOW) {
          for (const frame of batch.slice(i, i + WINDOW)) attacker.send(frame.bytes);
          await attacker.barrier();
        }
        expect(countersSince(before.dropped, (await gossipCounters(target.agent)).dropped)).toEqual(reasonCounts(batch));
        expect(isAlive(target.agent.pid)).toBe(true);
      }),
      { numRuns: 100, seed: 0x905_51b },
    );
  }, 20_000);

  it('closes and counts hostile streams: lengths up to 4 GiB, garbage frames, wrongly keyed push-pulls, frames cut short then ended or reset', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostileStream(UDP_TRANSPORT_DEFAULTS.maxExchangeSize), { minLength: 1, maxLength: 8 }), async (streams) => {
        const before = await gossipCounters(target.agent);
        for (const stream of streams) expect(await playStream(target.gossip, stream, 5_000)).toBe(true);
        const expected = streamCounts(streams);
        const resets = expected.refused.error ?? 0;
        // A reset is counted when the agent reads it, which may be after the attacker moved on;
        // and the agent may read the stream's end before the reset, counting a truncated frame.
        const resetsCounted = (after: GossipCounters) =>
          after.refused.error - before.refused.error + after.dropped.truncated - before.dropped.truncated - (expected.dropped.truncated ?? 0);
        let after = await gossipCounters(target.agent);
        await within(5_000, async () => resetsCounted((after = await gossipCounters(target.agent))) >= resets);
        expect(resetsCounted(after)).toBe(resets);
        expect({ ...countersSince(before.dropped, after.dropped), truncated: expected.dropped.truncated }).toEqual(expected.dropped);
        expect(isAlive(target.agent.pid)).toBe(true);
      }),
      { numRuns: 25, seed: 0x57_4ea3 },
    );
  }, 20_000);

  it('a well-formed alive, suspect, dead or push-pull sealed under a key the mesh does not hold changes no member anywhere', async () => {
    const [peerA, , peerB] = agents;
    const forged = [
      intruderAlive('intruder', '127.0.0.99:7946'),
      encodePacket([
        { type: 'dead', node: peerA!.node, incarnation: 1_000, from: 'intruder' },
        { type: 'suspect', node: peerB!.node, incarnation: 1_000, from: 'intruder' },
        { type: 'alive', node: target.node, incarnation: 1_000, addr: '127.0.0.99:7946', meta: { services: [], draining: false, version: '' } },
      ]),
    ];
    const before = await gossipCounters(target.agent);
    for (const frame of sealFrames(strangerKey, forged)) attacker.send(frame);
    await attacker.barrier();
    const stream = { kind: 'wrong-key' as const, bytes: lengthPrefixed(sealFrames(strangerKey, [intruderPushPull('intruder', '127.0.0.99:7946')])[0]!), finish: 'wait' as const, counted: { drop: 'decrypt' as const } };
    expect(await playStream(target.gossip, stream, 5_000)).toBe(true);
    expect(countersSince(before.dropped, (await gossipCounters(target.agent)).dropped)).toEqual({ decrypt: 3 });
    // A few gossip rounds, for anything the agent took in to spread.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const agent of agents) expect((await membershipOf(agent.agent)).join('\n')).not.toContain('intruder');
  }, 20_000);

  it('refuses a flood of connections past its cap while it still answers pings, and serves push-pull once the flood is gone', async () => {
    const before = await gossipCounters(target.agent);
    const flood = await Promise.all(Array.from({ length: 48 }, () => connectTo(target.gossip)));
    for (const socket of flood) socket.on('error', () => {});
    expect(await within(5_000, async () => (await gossipCounters(target.agent)).refused.limit - before.refused.limit >= 48 + stalls.length - UDP_TRANSPORT_DEFAULTS.maxInboundStreams)).toBe(true);
    expect(await attacker.barrier()).toBeGreaterThanOrEqual(1);
    for (const socket of flood) socket.destroy();
    let state: readonly { node: string; status: string }[] = [];
    expect(await within(5_000, async () => {
      state = await attacker.pullState().catch(() => []);
      return state.length > 0;
    })).toBe(true);
    expect(state.map((m) => `${m.node} ${m.status}`).sort()).toEqual(agents.map((a) => `${a.node} alive`).sort());
  }, 20_000);

  it('cuts the stalled streams at its stream timeout, and afterwards every agent lists the same members, incarnations unchanged, no suspicion or death counted', async () => {
    for (const socket of stalls) expect(await closed(socket, UDP_TRANSPORT_DEFAULTS.streamTimeoutMs + 5_000)).toBe(true);
    expect((await gossipCounters(target.agent)).refused.timeout - countersBefore[1]!.refused.timeout).toBeGreaterThanOrEqual(stalls.length);
    // Two probe rounds more, so a suspicion the attack caused would show.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    for (const agent of agents) expect(isAlive(agent.agent.pid)).toBe(true);
    expect(await converged(agents)).toBe(true);
    expect(await Promise.all(agents.map((a) => membershipOf(a.agent)))).toEqual(membershipBefore);
    const changes = await Promise.all(agents.map(async (a) => (await gossipCounters(a.agent)).changes));
    expect(changes).toEqual(countersBefore.map((c) => c.changes));
  }, 30_000);

  it('the same forged alive sealed under the mesh key does add its member: the checks above would see a change', async () => {
    for (const frame of sealFrames(KEY, [intruderAlive('intruder', '127.0.0.99:7946')])) attacker.send(frame);
    expect(await within(5_000, async () => (await membershipOf(target.agent)).some((line) => line.startsWith('intruder ')))).toBe(true);
  });
});
