import { describe, expect, it } from 'vitest';
import { parseChainBytes, restoreScript, summarizeTraffic } from '../../../bench/gossip/traffic.ts';

// `iptables -L MESHLET_GOSSIP_BENCH -v -x -n` (iptables 1.8.9, nf_tables) with the chain restoreScript makes.
const LISTING = `Chain MESHLET_GOSSIP_BENCH (1 references)
    pkts      bytes target     prot opt in     out     source               destination
     120    18000            17   --  *      *       127.0.0.2            0.0.0.0/0            udp spt:7946 /* m1 udp-out */
     118    17700            17   --  *      *       0.0.0.0/0            127.0.0.2            udp dpt:7946 /* m1 udp-in */
      10     4000            6    --  *      *       0.0.0.0/0            127.0.0.2            tcp dpt:7946 /* m1 tcp-in */
       9 12345678            6    --  *      *       127.0.0.2            0.0.0.0/0            tcp spt:7946 /* m1 tcp-out */
     100    15000            17   --  *      *       127.0.0.3            0.0.0.0/0            udp spt:7946 /* m2 udp-out */
`;

describe('traffic counters', () => {
  it('counts each member in both directions on its gossip port, UDP and TCP, and hooks the chain into OUTPUT', () => {
    const script = restoreScript([{ node: 'm1', host: '127.0.0.2' }]);
    expect(script.split('\n')).toEqual([
      '*filter',
      ':MESHLET_GOSSIP_BENCH - [0:0]',
      '-A MESHLET_GOSSIP_BENCH -s 127.0.0.2 -p udp --sport 7946 -m comment --comment "m1 udp-out"',
      '-A MESHLET_GOSSIP_BENCH -d 127.0.0.2 -p udp --dport 7946 -m comment --comment "m1 udp-in"',
      '-A MESHLET_GOSSIP_BENCH -d 127.0.0.2 -p tcp --dport 7946 -m comment --comment "m1 tcp-in"',
      '-A MESHLET_GOSSIP_BENCH -s 127.0.0.2 -p tcp --sport 7946 -m comment --comment "m1 tcp-out"',
      '-I OUTPUT 1 -j MESHLET_GOSSIP_BENCH',
      'COMMIT',
      '',
    ]);
  });

  it('reads the bytes of every rule by its comment', () => {
    const bytes = parseChainBytes(LISTING);
    expect(bytes.size).toBe(5);
    expect(bytes.get('m1 udp-out')).toBe(18_000);
    expect(bytes.get('m1 tcp-out')).toBe(12_345_678);
    expect(bytes.get('m2 udp-out')).toBe(15_000);
  });

  it('counts every byte on the wire once: UDP as sent, TCP at the listening side both ways', () => {
    const before = new Map([['m1 udp-out', 1000], ['m1 udp-in', 1000], ['m2 udp-out', 1000], ['m2 udp-in', 1000]]);
    const after = new Map([
      ['m1 udp-out', 11_000], ['m1 udp-in', 9_000], ['m1 tcp-in', 2_000], ['m1 tcp-out', 3_000],
      ['m2 udp-out', 9_000], ['m2 udp-in', 11_000],
    ]);
    const summary = summarizeTraffic(before, after, ['m1', 'm2'], 10);
    // (10,000 + 8,000 UDP + 5,000 TCP) / 2 members / 10 s
    expect(summary.bytesPerSecondPerMember).toBe(1150);
    expect(summary.tcpShare).toBeCloseTo(5000 / 23_000);
    // m1: 10,000 out + 8,000 in + 5,000 TCP
    expect(summary.maxMemberBytesPerSecond).toBe(2300);
  });

  it('has no rate without members or time', () => {
    expect(summarizeTraffic(new Map(), new Map(), [], 10).bytesPerSecondPerMember).toBeNaN();
    expect(summarizeTraffic(new Map(), new Map(), ['m1'], 0).bytesPerSecondPerMember).toBeNaN();
  });
});
