// The gossip wire on real sockets: the sealed transport over UDP and TCP on 127.0.0.1, and
// peers that send garbage, replay captures, announce 4 GiB, stall or flood.
import dgram from 'node:dgram';
import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { ExchangeError, type ExchangeErrorCode } from '../../src/gossip/exchange-error.ts';
import { generateGossipKey, Keyring } from '../../src/gossip/keyring.ts';
import { SealedTransport } from '../../src/gossip/sealed-transport.ts';
import { UdpTransport, type UdpTransportOptions } from '../../src/gossip/udp-transport.ts';
import { CountingWireMetrics, RecordingHandlers } from '../helpers/gossip-wire.ts';
import { hostileFrame, pingPacket, reasonCounts, sealFrames } from '../helpers/fuzz/gossip-frames.ts';
import { eventually } from './limits-support.ts';

const KEY = generateGossipKey();

interface Node {
  readonly udp: UdpTransport;
  readonly sealed: SealedTransport;
  readonly metrics: CountingWireMetrics;
  readonly packets: Buffer[];
  readonly requests: Buffer[];
  readonly warnings: string[];
}

const open: Node[] = [];
const sockets: Array<net.Socket | dgram.Socket> = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) {
    if (socket instanceof net.Socket) socket.destroy();
    else socket.close();
  }
  await Promise.all(open.splice(0).map((node) => node.sealed.close()));
});

async function startNode(options: Partial<UdpTransportOptions> = {}): Promise<Node> {
  const metrics = new CountingWireMetrics();
  const warnings: string[] = [];
  const udp = new UdpTransport({
    bind: { host: '127.0.0.1', port: 0 },
    clock: systemClock,
    metrics,
    log: { warn: (_fields, message) => void warnings.push(message) },
    ...options,
  });
  const sealed = new SealedTransport(udp, { keyring: new Keyring([KEY]), metrics, clock: systemClock });
  const handlers = new RecordingHandlers();
  await sealed.listen(handlers);
  const node = { udp, sealed, metrics, packets: handlers.packets, requests: handlers.requests, warnings };
  open.push(node);
  return node;
}

async function attacker(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

function send(socket: dgram.Socket, bytes: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) => socket.send(bytes, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
}

/** A raw TCP connection to `port`; resolves once connected. */
function connect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    sockets.push(socket);
    socket.on('error', reject);
  });
}

/** Resolves once the server has closed `socket` (or reset it), with what it sent first. */
function closedBy(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

function lengthPrefix(length: number): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(length, 0);
  return prefix;
}

async function refusal(promise: Promise<unknown>): Promise<ExchangeErrorCode> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof ExchangeError)) throw new Error(`expected an ExchangeError, got ${String(error)}`);
  return error.code;
}

describe('the sealed UDP/TCP transport on 127.0.0.1', () => {
  it('binds UDP and TCP to the same free port and delivers datagrams and exchanges between two members', async () => {
    const a = await startNode();
    const b = await startNode();
    expect(b.udp.port).toBeGreaterThan(0);
    expect(b.sealed.localAddress).toBe(`127.0.0.1:${b.udp.port}`);

    a.sealed.sendPacket(b.sealed.localAddress, pingPacket(1));
    expect(await eventually(() => b.packets.length === 1, 5_000)).toBe(true);
    expect(b.packets[0]).toEqual(Buffer.from(pingPacket(1)));

    const big = Buffer.alloc(256 * 1024, 'x');
    const answer = await a.sealed.exchange(b.sealed.localAddress, big, 5_000);
    expect(Buffer.from(answer)).toEqual(Buffer.concat([Buffer.from('re: '), big]));
    expect(b.requests).toEqual([big]);
    expect(a.metrics.droppedTotal() + b.metrics.droppedTotal()).toBe(0);
    expect(a.metrics.bytesOut.count).toBeGreaterThan(big.length);
  });

  it('advertises the address it is given', async () => {
    const node = await startNode({ advertise: '10.1.2.3:7946' });
    expect(node.sealed.localAddress).toBe('10.1.2.3:7946');
  });

  it('never hands the protocol a random, truncated, bit-flipped, wrongly keyed, replayed or oversized datagram, and counts each by reason', async () => {
    const node = await startNode();
    const socket = await attacker();
    const delivered = sealFrames(KEY, Array.from({ length: 8 }, (_, i) => pingPacket(i)));
    for (const frame of delivered) await send(socket, frame, node.udp.port);
    expect(await eventually(() => node.packets.length === 8, 5_000)).toBe(true);

    // Small batches: well inside the socket's receive buffer, so loopback loses none.
    const batches = fc.array(hostileFrame({ delivered, maxPacketSize: node.udp.maxPacketSize }), { minLength: 1, maxLength: 12 });
    await fc.assert(fc.asyncProperty(batches, async (batch) => {
      const before = { ...node.metrics.dropped };
      const total = node.metrics.droppedTotal();
      for (const frame of batch) await send(socket, frame.bytes, node.udp.port);
      expect(await eventually(() => node.metrics.droppedTotal() === total + batch.length, 5_000)).toBe(true);
      expect(node.metrics.droppedSince(before)).toEqual(reasonCounts(batch));
      expect(node.packets).toHaveLength(8);
    }), { numRuns: 60 });

    // Still serving: a member's next datagram arrives.
    const member = await startNode();
    member.sealed.sendPacket(node.sealed.localAddress, pingPacket(99));
    expect(await eventually(() => node.packets.length === 9, 5_000)).toBe(true);
    expect(node.warnings).toEqual([]);
  });

  it('drops hostile exchange requests unanswered, before the protocol sees them, and counts them', async () => {
    const node = await startNode();
    const delivered = sealFrames(KEY, [pingPacket(1)]);
    // The original, as a request, reaches the handler once.
    const first = await connect(node.udp.port);
    first.write(Buffer.concat([lengthPrefix(delivered[0]!.length), delivered[0]!]));
    expect((await closedBy(first)).length).toBeGreaterThan(4);
    expect(node.requests).toHaveLength(1);

    const frames = fc.array(hostileFrame({ delivered, maxPacketSize: 64 * 1024 }).filter((f) => f.reason !== 'oversize'), { minLength: 1, maxLength: 4 });
    await fc.assert(fc.asyncProperty(frames, async (batch) => {
      const before = { ...node.metrics.dropped };
      for (const frame of batch) {
        const socket = await connect(node.udp.port);
        socket.write(Buffer.concat([lengthPrefix(frame.bytes.length), frame.bytes]));
        expect(await closedBy(socket)).toEqual(Buffer.alloc(0));
      }
      expect(node.requests).toHaveLength(1);
      expect(node.metrics.droppedSince(before)).toEqual(reasonCounts(batch));
    }), { numRuns: 25 });
  });

  it('cuts a stream that announces 4 GiB at once, and keeps answering others', async () => {
    const node = await startNode();
    const socket = await connect(node.udp.port);
    socket.write(lengthPrefix(0xffffffff));
    expect(await closedBy(socket)).toEqual(Buffer.alloc(0));
    expect(node.metrics.dropped).toEqual({ oversize: 1 });

    const peer = await startNode();
    expect(Buffer.from(await peer.sealed.exchange(node.sealed.localAddress, Buffer.from('hi'), 5_000)).toString()).toBe('re: hi');
  });

  it('times out a stream that stalls, half way through its prefix or its frame', async () => {
    const node = await startNode({ streamTimeoutMs: 300 });
    const silent = await connect(node.udp.port);
    const halfPrefix = await connect(node.udp.port);
    halfPrefix.write(Buffer.of(0, 0));
    const halfFrame = await connect(node.udp.port);
    halfFrame.write(Buffer.concat([lengthPrefix(1000), Buffer.alloc(10)]));
    const started = Date.now();
    await Promise.all([closedBy(silent), closedBy(halfPrefix), closedBy(halfFrame)]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(node.metrics.refused).toEqual({ timeout: 3 });
    expect(node.requests).toHaveLength(0);
  });

  it('refuses streams beyond maxInboundStreams at accept, keeps delivering datagrams, and serves exchanges once the flood is cut', async () => {
    const node = await startNode({ maxInboundStreams: 4, streamTimeoutMs: 500 });
    const flood = await Promise.all(Array.from({ length: 12 }, () => connect(node.udp.port)));
    const closed = flood.map(closedBy);
    expect(await eventually(() => node.metrics.refused.limit === 8, 5_000)).toBe(true);

    const peer = await startNode();
    peer.sealed.sendPacket(node.sealed.localAddress, pingPacket(5));
    expect(await eventually(() => node.packets.length === 1, 5_000)).toBe(true);

    await Promise.all(closed);
    expect(node.metrics.refused).toEqual({ limit: 8, timeout: 4 });
    expect(Buffer.from(await peer.sealed.exchange(node.sealed.localAddress, Buffer.from('after'), 5_000)).toString()).toBe('re: after');
  });

  it('refuses a fifth stream from one address while another address still gets a slot, so one peer cannot stall anti-entropy', async () => {
    const node = await startNode({ streamTimeoutMs: 2_000 });
    const oneSource = await Promise.all(Array.from({ length: 6 }, () => connect(node.udp.port)));
    const closed = oneSource.map(closedBy);
    expect(await eventually(() => node.metrics.refused.limit === 2, 5_000)).toBe(true);
    const other = await connect(node.udp.port, '127.0.0.2');
    const otherClosed = closedBy(other);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(node.metrics.refused.limit).toBe(2);
    other.destroy();
    await Promise.all([...closed, otherClosed]);
  });

  it('dials its exchanges from its bind address, so a peer counts its streams against it and not against the host', async () => {
    const seen: string[] = [];
    const server = net.createServer((socket) => {
      seen.push(socket.remoteAddress ?? '');
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const node = await startNode({ bind: { host: '127.0.0.3', port: 0 } });
    await node.sealed.exchange(`127.0.0.1:${port}`, Buffer.from('x'), 2_000).catch(() => undefined);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(seen).toEqual(['127.0.0.3']);
  });

  it('closes at once a stream that ends mid-frame, without waiting for the stream timeout', async () => {
    const node = await startNode({ streamTimeoutMs: 60_000 });
    const socket = await connect(node.udp.port);
    const closed = closedBy(socket);
    socket.end(Buffer.concat([lengthPrefix(100), Buffer.alloc(50)]));
    expect(await closed).toEqual(Buffer.alloc(0));
    expect(node.metrics.dropped).toEqual({ truncated: 1 });
    expect(node.requests).toHaveLength(0);
  });

  it('survives a peer that resets mid-frame', async () => {
    const node = await startNode();
    const socket = await connect(node.udp.port);
    socket.write(Buffer.concat([lengthPrefix(100), Buffer.alloc(50)]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.resetAndDestroy();
    expect(await eventually(() => node.metrics.refused.error === 1, 5_000)).toBe(true);
    const peer = await startNode();
    expect(Buffer.from(await peer.sealed.exchange(node.sealed.localAddress, Buffer.from('ok'), 5_000)).toString()).toBe('re: ok');
  });

  it('fails an outbound exchange cleanly: nobody listening, no answer in time, an answer announced at 4 GiB', async () => {
    const node = await startNode();
    const free = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    expect(await refusal(node.sealed.exchange(`127.0.0.1:${free}`, Buffer.from('x'), 2_000))).toBe('MESHLET_GOSSIP_CONNECT_FAILED');

    const accepted: net.Socket[] = [];
    const stalling = net.createServer((socket) => {
      accepted.push(socket);
      socket.on('data', () => {});
    });
    const huge = net.createServer((socket) => {
      accepted.push(socket);
      socket.write(lengthPrefix(0xffffffff));
    });
    for (const server of [stalling, huge]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server: net.Server) => (server.address() as net.AddressInfo).port;
      expect(await refusal(node.sealed.exchange(`127.0.0.1:${port(stalling)}`, Buffer.from('x'), 300))).toBe('MESHLET_GOSSIP_EXCHANGE_TIMEOUT');
      expect(await refusal(node.sealed.exchange(`127.0.0.1:${port(huge)}`, Buffer.from('x'), 5_000))).toBe('MESHLET_GOSSIP_FRAME_TOO_LARGE');
      expect(node.metrics.dropped).toEqual({ oversize: 1 });
    } finally {
      for (const socket of accepted) socket.destroy();
      await Promise.all([stalling, huge].map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });

  it('does not send a datagram or a request over its limits, and counts them', async () => {
    const node = await startNode({ maxExchangeSize: 1024 });
    const peer = await startNode();
    node.sealed.sendPacket(peer.sealed.localAddress, new Uint8Array(node.sealed.maxPacketSize + 1));
    expect(await refusal(node.sealed.exchange(peer.sealed.localAddress, new Uint8Array(2048), 5_000))).toBe('MESHLET_GOSSIP_FRAME_TOO_LARGE');
    expect(node.metrics.notSent).toEqual({ oversize: 2 });
    expect(peer.metrics.bytesIn.count).toBe(0);
  });

  it('close() ends every open stream and pending exchange, and frees the port', async () => {
    const node = await startNode();
    const stalled = await connect(node.udp.port);
    const stalledClosed = closedBy(stalled);
    const listener = net.createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const pending = refusal(node.sealed.exchange(`127.0.0.1:${(listener.address() as net.AddressInfo).port}`, Buffer.from('x'), 10_000));
    const port = node.udp.port;
    await eventually(() => node.udp['inbound'].size === 1, 5_000);

    await node.sealed.close();
    expect(await pending).toBe('MESHLET_GOSSIP_TRANSPORT_CLOSED');
    await stalledClosed;
    await new Promise((resolve) => listener.close(resolve));
    const again = await startNode({ bind: { host: '127.0.0.1', port } });
    expect(again.udp.port).toBe(port);
  });
});
