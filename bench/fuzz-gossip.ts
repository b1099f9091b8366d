// `npm run fuzz -- --target gossip --packets 1000000`: three real agents on 127.0.0.71-73
// converge, then one of them gets `packets` hostile datagrams on its gossip port
// (test/helpers/fuzz/gossip-frames.ts: random, truncated, bit-flipped, wrongly keyed,
// wrong-version, replayed, oversized), one hostile stream every `streamsEvery` datagrams,
// stalled streams held from the start and one flood of connections past the stream cap half
// way. The attacker pings the agent after every `window` datagrams and waits for the ack
// (test/helpers/fuzz/gossip-attack.ts), and keeps under `rate` datagrams per second. Then it
// checks what a user would notice: every agent alive, the same members with the same
// incarnations everywhere, no member change counted, every drop counted by reason (what the
// kernel dropped is sent − counted), and the agent's RSS and CPU before and after.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { generateGossipKey } from '../src/gossip/keyring.ts';
import { UDP_TRANSPORT_DEFAULTS } from '../src/gossip/udp-transport.ts';
import {
  closed, connectTo, converged, countersSince, countInto, DROP_REASONS, gossipCounters, GossipAttacker, membershipOf, playStream, STALL_SOURCE, startGossipAgents, within, type GossipCounters,
} from '../test/helpers/fuzz/gossip-attack.ts';
import { hostileFrames, hostileStream, pingPacket, sealFrames, type HostileFrame } from '../test/helpers/fuzz/gossip-frames.ts';
import { isAlive } from '../test/helpers/processes.ts';
import { clockTicksPerSecond, readCpuTicks, readRssKiB } from './lib/proc-stats.ts';
import { RESULTS_DIR } from './lib/paths.ts';

export interface GossipFuzzOptions {
  readonly packets: number;
  readonly window: number;
  readonly rate: number;
  readonly streamsEvery: number;
  readonly minutes: number;
  readonly seed: number;
}

/** Held open from the start, each stalled at another point, until the agent cuts them at its stream timeout. */
const STALLS = [Buffer.alloc(0), Buffer.of(0, 0), Buffer.of(0, 0, 1, 0), Buffer.of(0, 0, 1, 0, 7, 7)];
const FLOOD = 48;

type Counts<K extends string> = Partial<Record<K, number>>;

interface Tally {
  sent: number;
  /** Pings the pacing had to send again: a ping or its ack was lost. */
  pingsResent: number;
  /** What the datagrams must be counted as. */
  readonly udp: Counts<string>;
  /** What the streams must be counted as ("reset": refused for an error, or a truncated frame). */
  readonly streamsExpected: Counts<string>;
  /** What the agent counted while each stream (and the flood) played, datagrams quiet. */
  readonly streamsDropped: Counts<string>;
  readonly streamsRefused: Counts<string>;
  streams: number;
  failures: string[];
}

function addInto(into: Counts<string>, from: Counts<string>): void {
  for (const [key, n] of Object.entries(from)) countInto(into, key, n ?? 0);
}

/** Runs the gossip target; resolves with the report's path and whether every check held. */
export async function runGossipFuzz(options: GossipFuzzOptions): Promise<{ file: string; ok: boolean }> {
  const startedAt = new Date();
  const key = generateGossipKey();
  const agents = await startGossipAgents({ count: 3, key, firstHost: 71, prefix: 'bench' });
  const tally: Tally = { sent: 0, pingsResent: 0, udp: {}, streamsExpected: {}, streamsDropped: {}, streamsRefused: {}, streams: 0, failures: [] };
  try {
    if (!(await within(20_000, () => converged(agents)))) throw new Error('the three agents did not converge within 20 s');
    const target = agents[1]!;
    const attacker = await GossipAttacker.start(target, key);
    const membershipBefore = await Promise.all(agents.map((a) => membershipOf(a.agent)));
    const countersBefore = await Promise.all(agents.map((a) => gossipCounters(a.agent)));
    const ticks = clockTicksPerSecond();
    const before = { rssKiB: readRssKiB(target.agent.pid), cpuTicks: readCpuTicks(target.agent.pid) };

    const stalls = await Promise.all(STALLS.map(async (bytes) => {
      const socket = await connectTo(target.gossip, STALL_SOURCE);
      socket.on('error', () => {});
      socket.write(bytes);
      return socket;
    }));

    /**
     * Runs `play` while no datagram is in flight (the pacing waits for an ack first), and
     * books what the agent counted meanwhile to the streams, once `settled` holds.
     */
    const asStreams = async (play: () => Promise<void>, settled: (dropped: Counts<string>, refused: Counts<string>) => boolean): Promise<void> => {
      const b = await gossipCounters(target.agent);
      await play();
      let a = b;
      await within(2_000, async () => {
        a = await gossipCounters(target.agent);
        return settled(countersSince(b.dropped, a.dropped), countersSince(b.refused, a.refused));
      });
      addInto(tally.streamsDropped, countersSince(b.dropped, a.dropped));
      const refused = countersSince(b.refused, a.refused);
      // The stalls time out whenever they do: theirs are not the streams'.
      delete refused.timeout;
      addInto(tally.streamsRefused, refused);
    };

    // 1 to 31 pings for another node a frame, 60 to 1,239 bytes: what the replays and bit flips start from.
    const payloads = Array.from({ length: 64 }, (_, i) => pingPacket(i * 100, 1 + (i % 16) * 2));
    const delivered = sealFrames(key, payloads);
    for (const frame of delivered) attacker.send(frame);
    tally.pingsResent += (await attacker.barrier()) - 1;
    countInto(tally.udp, 'unexpected', 4 * 16 * 16);

    const streams = fc.sample(hostileStream(UDP_TRANSPORT_DEFAULTS.maxExchangeSize), { numRuns: Math.ceil(options.packets / options.streamsEvery), seed: options.seed + 1 });
    const deadline = performance.now() + options.minutes * 60_000;
    const started = performance.now();
    let window: HostileFrame[] = [];
    let flooded = false;
    for (const frame of hostileFrames({ delivered, maxPacketSize: UDP_TRANSPORT_DEFAULTS.maxPacketSize }, options.packets, options.seed)) {
      attacker.send(frame.bytes);
      window.push(frame);
      tally.sent += 1;
      if (window.length < options.window && tally.sent < options.packets) continue;
      tally.pingsResent += (await attacker.barrier()) - 1;
      for (const sent of window) countInto(tally.udp, sent.reason);
      window = [];
      if (tally.sent >= (tally.streams + 1) * options.streamsEvery && tally.streams < streams.length) {
        const stream = streams[tally.streams++]!;
        const expected = 'drop' in stream.counted ? stream.counted.drop : 'reset';
        countInto(tally.streamsExpected, expected);
        await asStreams(async () => {
          if (!(await playStream(target.gossip, stream, 15_000))) tally.failures.push(`a ${stream.kind} stream was not closed within 15 s`);
        }, (dropped, refused) => (expected === 'reset' ? (refused.error ?? 0) + (dropped.truncated ?? 0) : (dropped[expected] ?? 0)) >= 1);
      }
      if (!flooded && tally.sent >= options.packets / 2) {
        flooded = true;
        // Each stream the agent accepted is cut by the attacker: counted once it is read.
        await asStreams(() => flood(target.gossip), (dropped, refused) => (refused.limit ?? 0) + (refused.error ?? 0) + (dropped.truncated ?? 0) >= FLOOD);
      }
      if (tally.sent % 100_000 < options.window) {
        process.stdout.write(`gossip fuzz: ${tally.sent} datagrams, ${tally.streams} streams, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
        if (!isAlive(target.agent.pid)) break;
      }
      const ahead = tally.sent / options.rate - (performance.now() - started) / 1000;
      if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead * 1000));
      if (performance.now() > deadline) break;
    }
    const seconds = (performance.now() - started) / 1000;
    const after = { rssKiB: readRssKiB(target.agent.pid), cpuTicks: readCpuTicks(target.agent.pid) };
    for (const socket of stalls) if (!(await closed(socket, UDP_TRANSPORT_DEFAULTS.streamTimeoutMs + 5_000))) tally.failures.push('a stalled stream was not cut at the stream timeout');
    // Three probe rounds, so a suspicion the attack caused would show.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const exits = agents.filter((a) => !isAlive(a.agent.pid)).map((a) => `${a.node}: ${a.agent.stderr().split('\n').filter(Boolean).slice(0, 8).join(' / ').slice(0, 600)}`);
    const alive = agents.filter((a) => isAlive(a.agent.pid));
    const membershipAfter = await Promise.all(alive.map((a) => membershipOf(a.agent)));
    const countersAfter = await Promise.all(alive.map((a) => gossipCounters(a.agent)));
    await attacker.close();
    const text = report({
      options, startedAt, seconds, tally, exits, ticks, before, after,
      convergedAfter: exits.length === 0 && (await converged(agents)),
      membershipUnchanged: exits.length === 0 && JSON.stringify(membershipAfter) === JSON.stringify(membershipBefore),
      changes: countersAfter.map((c, i) => countersSince(countersBefore[i]!.changes, c.changes)),
      target: exits.length === 0 ? { before: countersBefore[1]!, after: countersAfter[1]! } : undefined,
    });
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = join(RESULTS_DIR, `fuzz-gossip-${startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-')}.md`);
    writeFileSync(file, text.markdown);
    process.stdout.write(`${text.markdown}\nwritten: ${file}\n`);
    return { file, ok: text.ok };
  } finally {
    await Promise.all(agents.map((a) => a.agent.stop().catch(() => undefined)));
  }
}

/** `FLOOD` connections at once, past the agent's cap on inbound streams, held for a second, then cut. */
async function flood(address: string): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: FLOOD }, () => connectTo(address).catch(() => undefined)));
  for (const socket of sockets) socket?.on('error', () => {});
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const socket of sockets) socket?.destroy();
}

interface ReportInput {
  readonly options: GossipFuzzOptions;
  readonly startedAt: Date;
  readonly seconds: number;
  readonly tally: Tally;
  readonly exits: readonly string[];
  readonly ticks: number;
  readonly before: { rssKiB: number; cpuTicks: number };
  readonly after: { rssKiB: number; cpuTicks: number };
  readonly convergedAfter: boolean;
  readonly membershipUnchanged: boolean;
  /** Member changes counted by each agent during the run, by status. */
  readonly changes: readonly Counts<string>[];
  readonly target: { before: GossipCounters; after: GossipCounters } | undefined;
}

function report(input: ReportInput): { markdown: string; ok: boolean } {
  const { options, tally, target } = input;
  const dropped: Counts<string> = target ? countersSince(target.before.dropped, target.after.dropped) : {};
  const refused: Counts<string> = target ? countersSince(target.before.refused, target.after.refused) : {};
  const fromDatagrams = (reason: string) => (dropped[reason] ?? 0) - (tally.streamsDropped[reason] ?? 0);
  const sum = (counts: Counts<string>) => Object.values(counts).reduce<number>((total, n) => total + (n ?? 0), 0);
  const udpReasons = DROP_REASONS.filter((r) => (tally.udp[r] ?? 0) > 0 || fromDatagrams(r) !== 0);
  const udpSent = sum(tally.udp);
  const udpCounted = udpReasons.reduce((total, r) => total + fromDatagrams(r), 0);
  const noChanges = input.changes.every((c) => Object.keys(c).length === 0);
  const ok = input.exits.length === 0 && input.membershipUnchanged && input.convergedAfter && noChanges && tally.failures.length === 0 && tally.sent >= options.packets;
  const cpuS = (input.after.cpuTicks - input.before.cpuTicks) / input.ticks;
  const lines = [
    `# Gossip fuzz run ${input.startedAt.toISOString()}`,
    '',
    `\`npm run fuzz -- --target gossip --packets ${options.packets} --window ${options.window} --rate ${options.rate} --streams-every ${options.streamsEvery} --minutes ${options.minutes} --seed ${options.seed}\`; Node ${process.version}.`,
    '',
    `Three agents on 127.0.0.71-73 (probe 1 s, push-pull 3 s) converged; then bench-1's gossip port got ${tally.sent} hostile datagrams in ${input.seconds.toFixed(0)} s (${Math.round(tally.sent / input.seconds)}/s; after every ${options.window} the attacker pinged it and waited for the ack, ${tally.pingsResent} pings sent again), ${tally.streams} hostile streams between them, ${STALLS.length} stalled streams held from the start and a flood of ${FLOOD} connections half way.`,
    '',
    '| check | result |',
    '|---|---|',
    `| agent exits | **${input.exits.length}** |`,
    `| every agent lists the same members with the same incarnations as before | ${input.membershipUnchanged ? 'yes' : '**no**'} |`,
    `| member changes counted during the run, per agent | ${input.changes.map((c) => (Object.keys(c).length === 0 ? 'none' : `**${JSON.stringify(c)}**`)).join(', ')} |`,
    `| converged after (every agent sees the other two alive) | ${input.convergedAfter ? 'yes' : '**no**'} |`,
    `| datagrams sent / counted dropped / not counted (lost in the kernel) | ${udpSent} / ${udpCounted} / ${udpSent - udpCounted} |`,
    `| streams played (hostile + flood) / counted while they played (dropped + refused) | ${tally.streams + FLOOD} / ${sum(tally.streamsDropped) + sum(tally.streamsRefused)} |`,
    `| bench-1 RSS before / after | ${(input.before.rssKiB / 1024).toFixed(0)} / ${(input.after.rssKiB / 1024).toFixed(0)} MiB |`,
    `| bench-1 CPU during the attack | ${cpuS.toFixed(1)} s (${((cpuS / tally.sent) * 1e6).toFixed(1)} µs per datagram, streams and its own gossip included) |`,
    '',
    'Datagrams ("unexpected": the 64 frames of pings for another node, sealed under the mesh key, sent once before the replays of them; each ping counted):',
    '',
    '| drop reason | sent | counted in /metrics | not counted |',
    '|---|---:|---:|---:|',
    ...udpReasons.map((r) => `| ${r} | ${tally.udp[r] ?? 0} | ${fromDatagrams(r)} | ${(tally.udp[r] ?? 0) - fromDatagrams(r)} |`),
    '',
    `Streams: expected ${JSON.stringify(tally.streamsExpected)} ("reset": refused for an error, or a truncated frame when the agent read the end first; the flood's accepted streams, cut by the attacker, likewise); counted while they played: dropped ${JSON.stringify(tally.streamsDropped)}, refused ${JSON.stringify(tally.streamsRefused)}. Refused in all, stalls' timeouts included: ${JSON.stringify(refused)}.`,
    '',
  ];
  for (const exit of input.exits) lines.push(`- **the agent exited**: ${exit}`);
  for (const failure of tally.failures) lines.push(`- ${failure}`);
  return { markdown: `${lines.join('\n')}\n`, ok };
}
