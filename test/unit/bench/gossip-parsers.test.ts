import { describe, expect, it } from 'vitest';
import { gossipAddress, gossipHost } from '../../../bench/gossip/cluster.ts';
import { changedAt, changesFound, parseMemberChanges, parseMeshletMembers, sinceEpochMs } from '../../../bench/gossip/meshlet-api.ts';
import { meshletGossipConfig } from '../../../bench/gossip/meshlet-driver.ts';
import { parseSerfMembers, serfAgentArgs } from '../../../bench/gossip/serf-driver.ts';
import { parseSerfLogLine } from '../../../bench/gossip/serf-log.ts';
import { parseStatsdPacket } from '../../../bench/gossip/statsd.ts';
import { hasLocalSocket, procNetAddress, TCP_LISTEN } from '../../../bench/gossip/udp-sockets.ts';
import { lineSplitter } from '../../../bench/lib/processes.ts';
import { parse } from 'yaml';

describe('addresses', () => {
  it('puts member i on 127.0.0.(i+1):7946', () => {
    expect(gossipAddress(1)).toBe('127.0.0.2:7946');
    expect(gossipHost(50)).toBe('127.0.0.51');
    expect(() => gossipHost(0)).toThrow('outside 1..253');
    expect(() => gossipHost(254)).toThrow('outside 1..253');
  });
});

describe('Serf', () => {
  it('reads joins, failures and leaves from the agent log, nothing else', () => {
    expect(parseSerfLogLine('    2026/12/01 17:14:19 [INFO] serf: EventMemberJoin: s3 127.0.0.4')).toEqual({ member: 's3', status: 'alive' });
    expect(parseSerfLogLine('    2026/12/01 17:14:27 [INFO] serf: EventMemberFailed: s3 127.0.0.4')).toEqual({ member: 's3', status: 'dead' });
    expect(parseSerfLogLine('    2026/12/01 17:14:27 [INFO] serf: EventMemberLeave: s3 127.0.0.4')).toEqual({ member: 's3', status: 'left' });
    expect(parseSerfLogLine('    2026/12/01 17:14:23 [INFO] memberlist: Suspect s3 has failed, no acks received')).toEqual({ member: 's3', status: 'suspect' });
    expect(parseSerfLogLine('    2026/12/01 17:14:23 [DEBUG] memberlist: Failed UDP ping: s3 (timeout reached)')).toBeUndefined();
    expect(parseSerfLogLine('    2026/12/01 17:14:28 [INFO] agent: Received event: member-failed')).toBeUndefined();
  });

  it('adds up memberlist suspect and dead counters from statsd packets of several lines', () => {
    const packet = ['serf-agent.memberlist.msg.alive:1.000000|c', 'serf-agent.memberlist.msg.suspect:1.000000|c', 'serf-agent.memberlist.msg.dead:2.000000|c', 'serf-agent.memberlist.msg.suspect:1.000000|c', ''].join('\n');
    expect(parseStatsdPacket(packet)).toEqual({ suspect: 2, dead: 2 });
    expect(parseStatsdPacket('serf-agent.memberlist.gossip:0.052|ms\nserf-agent.memberlist.degraded.timeout:1.000000|c')).toEqual({ suspect: 0, dead: 0 });
  });

  it('reads `serf members -format=json` without the agent itself, failed as dead', () => {
    const json = JSON.stringify({ members: [
      { name: 's1', addr: '127.0.0.2:7946', status: 'alive' },
      { name: 's2', addr: '127.0.0.3:7946', status: 'failed' },
      { name: 's3', addr: '127.0.0.4:7946', status: 'leaving' },
      { name: 's4', addr: '127.0.0.5:7946', status: 'none' },
    ] });
    expect(parseSerfMembers(json, 's1')).toEqual(new Map([['s2', 'dead'], ['s3', 'left']]));
  });

  it('starts every agent on its own address with the LAN profile and the key, joining the seed unless it is the seed', () => {
    const seed = serfAgentArgs('s1', 1, 20001, 'KEY', '/tmp/s1.json');
    expect(seed).toEqual(['agent', '-node=s1', '-bind=127.0.0.2:7946', '-rpc-addr=127.0.0.1:20001', '-profile=lan', '-encrypt=KEY', '-config-file=/tmp/s1.json', '-log-level=info']);
    expect(serfAgentArgs('s3', 3, 20003, 'KEY', '/tmp/s3.json')).toContain('-join=127.0.0.2:7946');
  });
});

describe('Meshlet', () => {
  it('writes each agent a config with its admin port and its gossip address, joining the seed', () => {
    const config = parse(meshletGossipConfig('m3', 3, 20003, 'KEY')) as Record<string, unknown>;
    expect(config).toMatchObject({ node: 'm3', admin: { listen: '127.0.0.1:20003' }, gossip: { bind: '127.0.0.4:7946', join: ['127.0.0.2:7946'], keys: ['KEY'] } });
    expect((parse(meshletGossipConfig('m1', 1, 20001, 'KEY')) as { gossip: { join: string[] } }).gossip.join).toEqual([]);
  });

  it('reads /api/v1/members without the agent itself', () => {
    const body = {
      self: { node: 'm1', addr: '127.0.0.2:7946', status: 'alive', incarnation: 0 },
      members: [
        { node: 'm1', addr: '127.0.0.2:7946', status: 'alive', incarnation: 0 },
        { node: 'm2', addr: '127.0.0.3:7946', status: 'suspect', incarnation: 1, since: '2026-12-01T17:00:00.250Z', reason: 'probe-failed' },
        { node: 'm3', addr: '127.0.0.4:7946', status: 'dead', incarnation: 0, since: 5120.5, sinceMs: 880, reason: 'suspicion-timeout' },
      ],
    };
    expect(parseMeshletMembers(body)).toEqual([
      { node: 'm2', status: 'suspect', since: '2026-12-01T17:00:00.250Z' },
      { node: 'm3', status: 'dead', since: 5120.5, sinceMs: 880 },
    ]);
  });

  it('refuses a members body of another shape, naming what is wrong', () => {
    expect(() => parseMeshletMembers({ self: {} })).toThrow('no members array');
    expect(() => parseMeshletMembers({ members: [{ node: 'm2', status: 'failed' }] })).toThrow('m2 has status failed');
  });

  it('takes since as epoch ms, an ISO date, or the agent\'s monotonic clock counted from its start', () => {
    const started = 1_796_144_000_000;
    expect(sinceEpochMs(1_796_144_400_000, started)).toBe(1_796_144_400_000);
    expect(sinceEpochMs('2026-12-01T17:00:00Z', started)).toBe(Date.parse('2026-12-01T17:00:00Z'));
    expect(sinceEpochMs(5120.5, started)).toBe(started + 5120.5);
    expect(sinceEpochMs(-1, started)).toBeUndefined();
    expect(sinceEpochMs('soon', started)).toBeUndefined();
    expect(sinceEpochMs(undefined, started)).toBeUndefined();
  });

  it('times a polled change by since when it falls between the polls, else by the answer', () => {
    expect(changedAt(1500, 1000, 2000)).toBe(1500);
    expect(changedAt(500, 1000, 2000)).toBe(1000);
    expect(changedAt(2500, 1000, 2000)).toBe(2000);
    expect(changedAt(undefined, 1000, 2000)).toBe(2000);
  });

  it('turns a poll into the changes since the agent\'s previous poll, each once, timed by since', () => {
    const known = new Map<string, 'alive' | 'suspect' | 'dead' | 'left'>([['m2', 'alive'], ['m3', 'alive']]);
    const poll = { observer: 'm1', startedAt: 1_000_000, previousSentAt: 1_009_000, answeredAt: 1_010_000 };
    const first = changesFound({ ...poll, listed: [{ node: 'm2', status: 'alive', since: 100 }, { node: 'm3', status: 'dead', since: 9500 }, { node: 'm4', status: 'alive', since: undefined }] }, known);
    expect(first).toEqual([
      { observer: 'm1', member: 'm3', status: 'dead', at: 1_009_500 },
      { observer: 'm1', member: 'm4', status: 'alive', at: 1_010_000 },
    ]);
    expect(changesFound({ ...poll, listed: [{ node: 'm3', status: 'dead', since: 9500 }] }, known)).toEqual([]);
  });

  it('prefers sinceMs, counted back from the answer, to since', () => {
    const poll = { observer: 'm1', startedAt: 1_000_000, previousSentAt: 1_009_000, answeredAt: 1_010_000 };
    expect(changesFound({ ...poll, listed: [{ node: 'm2', status: 'dead', since: 1, sinceMs: 300 }] }, new Map())).toEqual([{ observer: 'm1', member: 'm2', status: 'dead', at: 1_009_700 }]);
  });

  it('sums meshlet_gossip_member_changes_total by status over its other labels', () => {
    const metrics = [
      '# HELP meshlet_gossip_member_changes_total Member status changes this agent saw',
      '# TYPE meshlet_gossip_member_changes_total counter',
      'meshlet_gossip_member_changes_total{status="alive"} 9',
      'meshlet_gossip_member_changes_total{status="suspect"} 2',
      'meshlet_gossip_member_changes_total{reason="probe-failed",status="suspect"} 1',
      'meshlet_gossip_member_changes_total{status="dead"} 1',
      'meshlet_gossip_members{state="alive"} 9',
    ].join('\n');
    expect(parseMemberChanges(metrics)).toEqual({ suspect: 3, dead: 1 });
    expect(parseMemberChanges('')).toEqual({ suspect: 0, dead: 0 });
  });
});

describe('/proc/net sockets', () => {
  const table = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '  371: 0200007F:1F0A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81234 2 0000000000000000 0',
    '  512: 0100007F:9C41 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81299 2 0000000000000000 0',
  ].join('\n');

  it('writes an address as the kernel does', () => {
    expect(procNetAddress('127.0.0.2', 7946)).toBe('0200007F:1F0A');
    expect(procNetAddress('127.0.0.51', 7946)).toBe('3300007F:1F0A');
    expect(() => procNetAddress('localhost', 1)).toThrow('not an IPv4 address');
  });

  it('finds a socket bound to an address and port, and only that one', () => {
    expect(hasLocalSocket(table, '127.0.0.2', 7946)).toBe(true);
    expect(hasLocalSocket(table, '127.0.0.3', 7946)).toBe(false);
    expect(hasLocalSocket(table, '127.0.0.1', 7946)).toBe(false);
  });

  it('tells a listening TCP socket from a connection the last cluster left in TIME-WAIT', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0200007F:1F0A 0100007F:E99C 06 00000000:00000000 03:00001076 00000000     0        0 0 3 0000000000000000',
      '   1: 0300007F:1F0A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 91234 1 0000000000000000 100 0 0 10 0',
    ].join('\n');
    expect(hasLocalSocket(tcp, '127.0.0.2', 7946, TCP_LISTEN)).toBe(false);
    expect(hasLocalSocket(tcp, '127.0.0.3', 7946, TCP_LISTEN)).toBe(true);
  });
});

describe('lineSplitter', () => {
  it('gives whole lines, a line split across chunks once it is complete', () => {
    const lines: string[] = [];
    const feed = lineSplitter((line) => lines.push(line));
    feed(Buffer.from('one\ntw'));
    feed(Buffer.from('o\nthr'));
    expect(lines).toEqual(['one', 'two']);
    feed(Buffer.from('ee\n'));
    expect(lines).toEqual(['one', 'two', 'three']);
  });
});
