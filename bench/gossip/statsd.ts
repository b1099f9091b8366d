// Serf's counts of suspicions and deaths: memberlist counts every member it moves from alive to
// suspect (memberlist.msg.suspect) and to dead (memberlist.msg.dead), the same transitions
// Meshlet's meshlet_gossip_member_changes_total counts, and Serf's agent sends them to a statsd
// address. Each agent gets its own listener here, so whose count it is needs no parsing.
import { createSocket, type Socket } from 'node:dgram';
import type { ChangeCounts } from './cluster.ts';

const COUNTER = /(?:^|\.)memberlist\.msg\.(suspect|dead)[^:]*:([\d.]+)\|c/;

/** What one statsd packet adds to the counts: lines such as "serf-agent.memberlist.msg.dead:1.000000|c". */
export function parseStatsdPacket(packet: string): ChangeCounts {
  let suspect = 0;
  let dead = 0;
  for (const line of packet.split('\n')) {
    const match = COUNTER.exec(line.trim());
    if (!match) continue;
    const value = Number(match[2]);
    if (match[1] === 'suspect') suspect += value;
    else dead += value;
  }
  return { suspect, dead };
}

export interface StatsdCounter {
  /** "127.0.0.1:PORT", for the agent's statsd_addr. */
  readonly address: string;
  counts(): ChangeCounts;
  close(): void;
}

/** A UDP listener on 127.0.0.1 that adds up what one agent reports. */
export async function listenStatsd(): Promise<StatsdCounter> {
  const socket: Socket = createSocket('udp4');
  const totals = { suspect: 0, dead: 0 };
  socket.on('message', (message) => {
    const added = parseStatsdPacket(message.toString('utf8'));
    totals.suspect += added.suspect;
    totals.dead += added.dead;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    address: `127.0.0.1:${socket.address().port}`,
    counts: () => ({ ...totals }),
    close: () => socket.close(),
  };
}
