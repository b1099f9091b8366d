import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { MemoryNetwork } from '../../../src/gossip/memory-network.ts';
import { mulberry32 } from '../balancer/fixtures.ts';

function network(options = {}) {
  const clock = new FakeClock();
  const net = new MemoryNetwork(clock, mulberry32(9), options);
  const received = new Map<string, string[]>();
  const listen = async (addr: string, answer?: (request: Uint8Array) => Uint8Array | undefined) => {
    const t = net.transport(addr);
    received.set(addr, []);
    await t.listen({
      packet: (from, data) => received.get(addr)!.push(`${from}:${Buffer.from(data).toString()}`),
      exchange: async (_from, request) => answer?.(request),
    });
    return t;
  };
  return { clock, net, received, listen };
}

const bytes = (s: string) => Buffer.from(s);

describe('MemoryNetwork', () => {
  it('delivers after the delay, reorders with jitter, and counts packets and bytes', async () => {
    const { clock, net, received, listen } = network({ delayMs: 1, jitterMs: 10 });
    const a = await listen('a:1');
    await listen('b:1');
    for (let i = 0; i < 20; i++) a.sendPacket('b:1', bytes(String(i)));
    clock.advance(0);
    expect(received.get('b:1')).toEqual([]);
    clock.advance(11);
    const got = received.get('b:1')!.map((p) => Number(p.split(':')[2]));
    expect(got.slice().sort((x, y) => x - y)).toEqual([...Array(20).keys()]);
    expect(got).not.toEqual([...Array(20).keys()]);
    expect(net.counters('a:1')).toMatchObject({ packetsSent: 20, bytesSent: 30 });
    expect(net.counters('b:1')).toMatchObject({ packetsDelivered: 20, bytesDelivered: 30 });
  });

  it('loses about the configured share of packets', async () => {
    const { clock, received, listen } = network({ loss: 0.2 });
    const a = await listen('a:1');
    await listen('b:1');
    for (let i = 0; i < 2000; i++) a.sendPacket('b:1', bytes('x'));
    clock.advance(100);
    expect(received.get('b:1')!.length).toBeGreaterThan(1500);
    expect(received.get('b:1')!.length).toBeLessThan(1700);
  });

  it('cuts traffic between partitions both ways until healed, exchanges included', async () => {
    const { clock, net, received, listen } = network();
    const a = await listen('a:1', () => bytes('from a'));
    const b = await listen('b:1', () => bytes('from b'));
    net.partition([['a:1'], ['b:1']]);
    a.sendPacket('b:1', bytes('1'));
    b.sendPacket('a:1', bytes('2'));
    const cut = a.exchange('b:1', bytes('q'), 500);
    const failed = cut.catch((err: Error) => err.message);
    clock.advance(600);
    expect(await failed).toMatch(/timed out after 500 ms/);
    net.heal();
    a.sendPacket('b:1', bytes('3'));
    const answered = a.exchange('b:1', bytes('q'), 500);
    clock.advance(10);
    await Promise.resolve();
    clock.advance(10);
    expect(Buffer.from(await answered).toString()).toBe('from b');
    expect(received.get('b:1')).toEqual(['a:1:3']);
    expect(received.get('a:1')).toEqual([]);
  });

  it('a killed member neither sends nor receives', async () => {
    const { clock, net, received, listen } = network();
    const a = await listen('a:1');
    const b = await listen('b:1');
    net.kill('b:1');
    a.sendPacket('b:1', bytes('1'));
    b.sendPacket('a:1', bytes('2'));
    clock.advance(100);
    expect(received.get('a:1')).toEqual([]);
    expect(received.get('b:1')).toEqual([]);
  });

  it('runs a slow member’s handlers late and reports its lag, 0 once it is on time again', async () => {
    const { clock, net, received, listen } = network({ delayMs: 1, jitterMs: 0 });
    const a = await listen('a:1');
    await listen('b:1');
    const lags: number[] = [];
    net.slow('b:1', 300, (ms) => lags.push(ms));
    a.sendPacket('b:1', bytes('1'));
    clock.advance(300);
    expect(received.get('b:1')).toEqual([]);
    clock.advance(1);
    expect(received.get('b:1')).toEqual(['a:1:1']);
    clock.advance(2000);
    net.slow('b:1', 0);
    clock.advance(1000);
    expect(lags).toEqual([300, 300, 0]);
  });

  it('drops a datagram over the packet size', async () => {
    const { clock, received, listen } = network({ maxPacketSize: 10 });
    const a = await listen('a:1');
    await listen('b:1');
    a.sendPacket('b:1', bytes('x'.repeat(11)));
    clock.advance(100);
    expect(received.get('b:1')).toEqual([]);
  });
});
