// Real agents under attack on their gossip port, for test/integration/gossip-fuzz.test.ts and
// the bench's gossip fuzz target (bench/fuzz-gossip.ts): a small cluster of agents on
// 127.0.0.x, what each says about its membership and what it dropped, and an attacker that
// sends hostile datagrams and streams to one of them.
//
// The attacker holds the mesh's key for one thing only, pacing: after each window of hostile
// datagrams it pings the agent, sealed as a member would, and waits for the ack. The ack comes
// back only once the agent has read everything sent before the ping, so a window that fits
// the receive buffer is never dropped by the kernel and every hostile datagram is counted.
import net from 'node:net';
import { systemClock } from '../../../src/clock.ts';
import { decodePacket, encodePacket } from '../../../src/gossip/codec.ts';
import { Keyring } from '../../../src/gossip/keyring.ts';
import type { MemberState } from '../../../src/gossip/messages.ts';
import { SealedTransport } from '../../../src/gossip/sealed-transport.ts';
import { UdpTransport } from '../../../src/gossip/udp-transport.ts';
import type { DropReason, StreamRefusal } from '../../../src/gossip/wire-metrics.ts';
import { metricsText, sampleValue, splitAddress } from '../../integration/http-support.ts';
import { CountingWireMetrics } from '../gossip-wire.ts';
import { startAgent, type RunningAgent } from '../processes.ts';
import type { HostileStream } from './gossip-frames.ts';

/** The LAN profile's probing, with push-pull every few seconds so it runs during an attack. */
const TIMING = { probeInterval: '1s', probeTimeout: '500ms', gossipInterval: '200ms', pushPullInterval: '3s' };

export interface GossipAgent {
  readonly agent: RunningAgent;
  readonly node: string;
  /** Its gossip "host:port", UDP and TCP. */
  readonly gossip: string;
}

interface MembersView {
  readonly self: { readonly node: string; readonly addr: string; readonly incarnation: number };
  readonly members: readonly { readonly node: string; readonly addr: string; readonly status: string; readonly incarnation: number }[];
}

async function membersView(agent: RunningAgent): Promise<MembersView> {
  const res = await fetch(`http://${agent.admin}/api/v1/members`);
  return (await res.json()) as MembersView;
}

/** `count` agents named `<prefix>-<i>` on 127.0.0.<firstHost + i>, each joining the first. */
export async function startGossipAgents(options: { count: number; key: string; firstHost: number; prefix: string }): Promise<GossipAgent[]> {
  const config = (i: number, seed: string | undefined) => ({
    node: `${options.prefix}-${i}`,
    admin: { listen: '127.0.0.1:0' },
    gossip: { bind: `127.0.0.${options.firstHost + i}:0`, join: seed ? [seed] : [], keys: [options.key], ...TIMING },
  });
  const started = async (i: number, seed: string | undefined): Promise<GossipAgent> => {
    const agent = await startAgent(config(i, seed));
    return { agent, node: `${options.prefix}-${i}`, gossip: (await membersView(agent)).self.addr };
  };
  const first = await started(0, undefined);
  const rest = await Promise.all(Array.from({ length: options.count - 1 }, (_, i) => started(i + 1, first.gossip)));
  return [first, ...rest];
}

/**
 * What an agent knows of the membership, one line per member ("node addr status
 * incarnation"), sorted, its own line first: equal before and after an attack when the attack
 * changed nothing.
 */
export async function membershipOf(agent: RunningAgent): Promise<string[]> {
  const view = await membersView(agent);
  const lines = view.members.map((m) => `${m.node} ${m.addr} ${m.status} ${m.incarnation}`).sort();
  return [`self ${view.self.node} ${view.self.addr} ${view.self.incarnation}`, ...lines];
}

/** Whether every agent lists every other as alive. */
export async function converged(agents: readonly GossipAgent[]): Promise<boolean> {
  const views = await Promise.all(agents.map((a) => membersView(a.agent)));
  return views.every((view) => agents.every((other) => other.node === view.self.node || view.members.some((m) => m.node === other.node && m.status === 'alive')));
}

/** Polls `check` every 100 ms until it holds; false after `timeoutMs`. */
export async function within(timeoutMs: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const DROP_REASONS = ['oversize', 'truncated', 'version', 'decrypt', 'replay', 'decode', 'unexpected', 'member-cap', 'pending-cap'] as const;
const CHANGE_STATUSES = ['alive', 'suspect', 'dead', 'left'] as const;
const REFUSALS = ['limit', 'timeout', 'error'] as const satisfies readonly StreamRefusal[];

export interface GossipCounters {
  readonly dropped: Record<(typeof DROP_REASONS)[number], number>;
  /** meshlet_gossip_member_changes_total by status. */
  readonly changes: Record<(typeof CHANGE_STATUSES)[number], number>;
  readonly refused: Record<StreamRefusal, number>;
}

/** The agent's gossip drop, member change and refused stream counters, from /metrics. */
export async function gossipCounters(agent: RunningAgent): Promise<GossipCounters> {
  const text = await metricsText(agent);
  const read = <K extends string>(name: string, label: string, keys: readonly K[]) =>
    Object.fromEntries(keys.map((key) => [key, sampleValue(text, name, { [label]: key })])) as Record<K, number>;
  return {
    dropped: read('meshlet_gossip_packets_dropped_total', 'reason', DROP_REASONS),
    changes: read('meshlet_gossip_member_changes_total', 'status', CHANGE_STATUSES),
    refused: read('meshlet_gossip_streams_refused_total', 'reason', REFUSALS),
  };
}

/** `after - before` per key, leaving out the keys that did not move. */
export function countersSince<K extends string>(before: Record<K, number>, after: Record<K, number>): Partial<Record<K, number>> {
  const since: Partial<Record<K, number>> = {};
  for (const key of Object.keys(after) as K[]) if (after[key] !== before[key]) since[key] = after[key] - before[key];
  return since;
}

/** Adds one to `counts[key]`. */
export function countInto<K extends string>(counts: Partial<Record<K, number>>, key: K, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** How long the attacker waits for an ack before it pings again. */
const ACK_TIMEOUT_MS = 1_000;
const ACK_ATTEMPTS = 10;

export class GossipAttacker {
  private readonly acks = new Map<number, () => void>();
  private seqNo = 0;

  private constructor(
    private readonly udp: UdpTransport,
    private readonly sealed: SealedTransport,
    private readonly target: GossipAgent,
  ) {}

  /** An attacker on 127.0.0.1 aimed at `target`, holding `key` to pace itself. */
  static async start(target: GossipAgent, key: string): Promise<GossipAttacker> {
    const metrics = new CountingWireMetrics();
    // No size limit on what it sends but UDP's own: oversized datagrams are part of the attack.
    const udp = new UdpTransport({ bind: { host: '127.0.0.1', port: 0 }, clock: systemClock, metrics, log: { warn: () => {} }, maxPacketSize: 65_507 });
    const sealed = new SealedTransport(udp, { keyring: new Keyring([key]), metrics, clock: systemClock });
    const attacker = new GossipAttacker(udp, sealed, target);
    await sealed.listen({ packet: (_from, data) => attacker.received(data), exchange: () => Promise.resolve(undefined) });
    return attacker;
  }

  /** Sends `bytes` to the target's gossip port as one datagram, unsealed. */
  send(bytes: Uint8Array): void {
    this.udp.sendPacket(this.target.gossip, bytes);
  }

  /**
   * Resolves once the target has acked a ping sent after everything before it (pinging again
   * each second if ping or ack is lost); rejects when the target answered none of 10 pings.
   * Returns how many pings it took.
   */
  async barrier(): Promise<number> {
    for (let attempt = 1; attempt <= ACK_ATTEMPTS; attempt++) {
      const seqNo = ++this.seqNo;
      const acked = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          this.acks.delete(seqNo);
          resolve(false);
        }, ACK_TIMEOUT_MS);
        this.acks.set(seqNo, () => {
          clearTimeout(timer);
          this.acks.delete(seqNo);
          resolve(true);
        });
      });
      this.sealed.sendPacket(this.target.gossip, encodePacket([{ type: 'ping', seqNo, node: this.target.node, sourceNode: 'fuzzer', sourceAddr: this.udp.localAddress }]));
      if (await acked) return attempt;
    }
    throw new Error(`${this.target.node} acked none of ${ACK_ATTEMPTS} pings`);
  }

  /** The target's membership as it answers a push-pull of no members (sealed, as a member asks). */
  async pullState(): Promise<readonly MemberState[]> {
    const answer = decodePacket(await this.sealed.exchange(this.target.gossip, encodePacket([{ type: 'push-pull', join: false, members: [] }]), 5_000));
    const [first] = answer;
    if (answer.length !== 1 || first?.type !== 'push-pull') throw new Error('the answer to a push-pull is no push-pull');
    return first.members;
  }

  close(): Promise<void> {
    return this.sealed.close();
  }

  private received(data: Uint8Array): void {
    for (const message of decodePacket(data)) if (message.type === 'ack') this.acks.get(message.seqNo)?.();
  }
}

/** A TCP connection to `address`, from `localAddress` if given; resolves once connected. */
export function connectTo(address: string, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ ...splitAddress(address), ...(localAddress !== undefined ? { localAddress } : {}) }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** Resolves once `socket` is closed (by either side), false if that took over `timeoutMs` (then it is destroyed). */
export function closed(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.closed) return resolve(true);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.on('error', () => {});
    socket.resume();
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Where stalled streams come from: another address than the hostile streams', since a receiver lets each source hold only a few slots. */
export const STALL_SOURCE = '127.0.0.250';

/**
 * Plays `stream` against the gossip port at `address`. Resolves true once the stream is over
 * as it should be: the receiver closed it (after its frame, or after the attacker ended its
 * side), or the attacker reset it; false when the receiver held it for over `timeoutMs`.
 */
export async function playStream(address: string, stream: HostileStream, timeoutMs: number): Promise<boolean> {
  const socket = await connectTo(address);
  socket.on('error', () => {});
  socket.write(stream.bytes);
  if (stream.finish === 'reset') {
    // Written bytes first, so the receiver has read them when the reset comes.
    await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
    socket.resetAndDestroy();
    return true;
  }
  if (stream.finish === 'end') socket.end();
  return closed(socket, timeoutMs);
}

/** What the receiver should count for a batch of streams. */
export function streamCounts(streams: readonly HostileStream[]): { dropped: Partial<Record<DropReason, number>>; refused: Partial<Record<StreamRefusal, number>> } {
  const dropped: Partial<Record<DropReason, number>> = {};
  const refused: Partial<Record<StreamRefusal, number>> = {};
  for (const { counted } of streams) {
    if ('drop' in counted) countInto(dropped, counted.drop);
    else countInto(refused, counted.refused);
  }
  return { dropped, refused };
}
