// The real network under the gossip protocol (memberlist's net_transport.go): a UDP socket
// for datagrams and a TCP server on the same host:port for exchanges, one length-prefixed
// request and one length-prefixed answer per connection. Nothing a peer does reaches beyond
// the limits below: a datagram over maxPacketSize is dropped unread, a frame whose length
// prefix is over maxExchangeSize is cut before any of it is kept, inbound streams past
// maxInboundStreams (or past maxInboundStreamsPerSource from one address, so a peer without the
// key cannot hold every slot and stall anti-entropy) are closed at accept, and a stream not done within streamTimeoutMs is
// cut; so inbound exchanges hold at most maxInboundStreams × maxExchangeSize (128 MiB by
// default). No socket error escapes.

import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Clock } from '../clock.ts';
import { formatHostPort, isWildcardHost, parseHostPort } from '../config/address.ts';
import { ExchangeError } from './exchange-error.ts';
import { FrameReader, lengthPrefixed } from './frame-reader.ts';
import type { Transport, TransportHandlers } from './transport.ts';
import type { WireMetrics } from './wire-metrics.ts';

export const UDP_TRANSPORT_DEFAULTS = {
  /** memberlist's UDPBufferSize: fits an Ethernet MTU with room for IP and UDP headers. */
  maxPacketSize: 1400,
  /** A push-pull of 10,000 members (codec.ts DECODE_LIMITS) with their services fits. */
  maxExchangeSize: 4 * 1024 * 1024,
  maxInboundStreams: 32,
  /** A push-pull is one stream per peer at a time; a few more allow a join racing a resync. */
  maxInboundStreamsPerSource: 4,
  /** memberlist's TCPTimeout: from accept until the answer is written. */
  streamTimeoutMs: 10_000,
  connectTimeoutMs: 2_000,
} as const;

/** Port 0 asks for any free TCP port, which UDP may already hold there; memberlist tries 10. */
const PORT_ZERO_ATTEMPTS = 10;

export interface WireLog {
  warn(fields: object, message: string): void;
}

export interface UdpTransportOptions {
  /** gossip.bind; port 0 takes any free port (the same for UDP and TCP). */
  readonly bind: { readonly host: string; readonly port: number };
  /** gossip.advertise, "host:port"; default the bound address. */
  readonly advertise?: string;
  readonly clock: Clock;
  readonly metrics: WireMetrics;
  readonly log: WireLog;
  readonly maxPacketSize?: number;
  readonly maxExchangeSize?: number;
  readonly maxInboundStreams?: number;
  readonly maxInboundStreamsPerSource?: number;
  readonly streamTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

interface Bound {
  readonly server: net.Server;
  readonly udp: dgram.Socket;
  readonly address: string;
}

export class UdpTransport implements Transport {
  readonly maxPacketSize: number;
  private readonly maxExchangeSize: number;
  private readonly maxInboundStreams: number;
  private readonly maxInboundStreamsPerSource: number;
  /** Open inbound streams per source address; at most maxInboundStreams entries. */
  private readonly inboundBySource = new Map<string, number>();
  private readonly streamTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly clock: Clock;
  private readonly metrics: WireMetrics;
  private readonly log: WireLog;
  private bound: Bound | undefined;
  private handlers: TransportHandlers | undefined;
  private closed = false;
  private readonly inbound = new Set<net.Socket>();
  /** Outbound exchanges in flight, each settled with this error on close(). */
  private readonly outbound = new Set<(error: ExchangeError) => void>();
  private readonly onSent = (error: Error | null): void => {
    if (error) this.metrics.packetNotSent('error');
  };

  constructor(private readonly options: UdpTransportOptions) {
    this.maxPacketSize = options.maxPacketSize ?? UDP_TRANSPORT_DEFAULTS.maxPacketSize;
    this.maxExchangeSize = options.maxExchangeSize ?? UDP_TRANSPORT_DEFAULTS.maxExchangeSize;
    this.maxInboundStreams = options.maxInboundStreams ?? UDP_TRANSPORT_DEFAULTS.maxInboundStreams;
    this.maxInboundStreamsPerSource = options.maxInboundStreamsPerSource ?? UDP_TRANSPORT_DEFAULTS.maxInboundStreamsPerSource;
    this.streamTimeoutMs = options.streamTimeoutMs ?? UDP_TRANSPORT_DEFAULTS.streamTimeoutMs;
    this.connectTimeoutMs = options.connectTimeoutMs ?? UDP_TRANSPORT_DEFAULTS.connectTimeoutMs;
    this.clock = options.clock;
    this.metrics = options.metrics;
    this.log = options.log;
  }

  /** The advertise address, or the bound one once listen() has resolved. */
  get localAddress(): string {
    if (this.options.advertise !== undefined) return this.options.advertise;
    return this.bound ? formatHostPort(this.bound.address, this.port) : formatHostPort(this.options.bind.host, this.options.bind.port);
  }

  /** The bound port (the one the OS chose for port 0); 0 before listen(). */
  get port(): number {
    return this.bound ? (this.bound.server.address() as net.AddressInfo).port : 0;
  }

  /** Binds UDP and TCP on the same host:port (then `port` and `localAddress` tell which). */
  async listen(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
    const { host, port } = this.options.bind;
    const address = net.isIP(host) !== 0 ? host : (await lookup(host)).address;
    for (let attempt = 1; ; attempt++) {
      const server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
      server.on('error', (error) => this.log.warn({ err: error }, 'gossip TCP listener error'));
      await listenTcp(server, address, port);
      const udp = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
      try {
        await bindUdp(udp, address, (server.address() as net.AddressInfo).port);
      } catch (error) {
        server.close();
        if (port === 0 && attempt < PORT_ZERO_ATTEMPTS && (error as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw error;
      }
      udp.on('error', (error) => this.log.warn({ err: error }, 'gossip UDP socket error'));
      udp.on('message', (data, from) => this.receive(data, from));
      this.bound = { server, udp, address };
      return;
    }
  }

  sendPacket(to: string, data: Uint8Array): void {
    if (this.bound === undefined || this.closed) return;
    if (data.length > this.maxPacketSize) {
      this.metrics.packetNotSent('oversize');
      return;
    }
    const target = parseHostPort(to, { allowPortZero: false });
    if (!target.ok) {
      this.metrics.packetNotSent('error');
      return;
    }
    this.metrics.bytes('out', data.length);
    try {
      this.bound.udp.send(data, target.value.port, target.value.host, this.onSent);
    } catch {
      this.metrics.packetNotSent('error');
    }
  }

  /**
   * Dials from the gossip bind address when it is one address of the target's family: a peer
   * then sees each member's streams from its own address (its per-source stream cap counts
   * members, not hosts, on a shared loopback or host), as it sees its datagrams.
   */
  private dialFrom(targetHost: string): { localAddress?: string } {
    const host = this.options.bind.host;
    if (isWildcardHost(host) || net.isIP(host) === 0 || net.isIP(host) !== net.isIP(targetHost)) return {};
    return { localAddress: host };
  }

  exchange(to: string, request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new ExchangeError('MESHLET_GOSSIP_TRANSPORT_CLOSED', 'the gossip transport is closed'));
    if (request.length > this.maxExchangeSize) {
      this.metrics.packetNotSent('oversize');
      return Promise.reject(new ExchangeError('MESHLET_GOSSIP_FRAME_TOO_LARGE', `a request of ${request.length} bytes is over the limit of ${this.maxExchangeSize}`));
    }
    const target = parseHostPort(to, { allowPortZero: false });
    if (!target.ok) return Promise.reject(new ExchangeError('MESHLET_GOSSIP_CONNECT_FAILED', `cannot connect to ${to}: ${target.reason}`));
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: target.value.host, port: target.value.port, ...this.dialFrom(target.value.host) });
      const reader = new FrameReader(this.maxExchangeSize);
      let connected = false;
      const settle = (error: ExchangeError | undefined, answer?: Buffer): void => {
        if (!this.outbound.delete(settle)) return;
        this.clock.clearTimeout(connectTimer);
        this.clock.clearTimeout(deadline);
        socket.destroy();
        if (error) reject(error);
        else resolve(answer!);
      };
      this.outbound.add(settle);
      const connectTimer = this.clock.setTimeout(
        () => settle(new ExchangeError('MESHLET_GOSSIP_CONNECT_TIMEOUT', `no connection to ${to} within ${this.connectTimeoutMs} ms`)),
        Math.min(this.connectTimeoutMs, timeoutMs),
      );
      const deadline = this.clock.setTimeout(
        () => settle(new ExchangeError('MESHLET_GOSSIP_EXCHANGE_TIMEOUT', `no answer from ${to} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.once('connect', () => {
        connected = true;
        this.clock.clearTimeout(connectTimer);
        const frame = lengthPrefixed(request);
        this.metrics.bytes('out', frame.length);
        socket.write(frame);
      });
      socket.on('data', (chunk: Buffer) => {
        this.metrics.bytes('in', chunk.length);
        const answer = reader.push(chunk);
        if (answer === 'oversize') {
          this.metrics.packetDropped('oversize');
          settle(new ExchangeError('MESHLET_GOSSIP_FRAME_TOO_LARGE', `${to} announced an answer over the limit of ${this.maxExchangeSize} bytes`));
        } else if (answer !== undefined) {
          settle(undefined, answer);
        }
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        settle(connected
          ? new ExchangeError('MESHLET_GOSSIP_NO_ANSWER', `the stream to ${to} failed: ${error.code ?? error.message}`)
          : new ExchangeError('MESHLET_GOSSIP_CONNECT_FAILED', `cannot connect to ${to}: ${error.code ?? error.message}`));
      });
      socket.on('close', () => settle(new ExchangeError('MESHLET_GOSSIP_NO_ANSWER', `${to} closed the stream without an answer`)));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closing = new ExchangeError('MESHLET_GOSSIP_TRANSPORT_CLOSED', 'the gossip transport is closed');
    for (const settle of [...this.outbound]) settle(closing);
    for (const socket of this.inbound) socket.destroy();
    if (this.bound === undefined) return;
    const { server, udp } = this.bound;
    await Promise.all([
      new Promise<void>((resolve) => server.close(() => resolve())),
      new Promise<void>((resolve) => udp.close(() => resolve())),
    ]);
  }

  private receive(data: Buffer, from: dgram.RemoteInfo): void {
    this.metrics.bytes('in', data.length);
    if (data.length > this.maxPacketSize) {
      this.metrics.packetDropped('oversize');
      return;
    }
    try {
      this.handlers!.packet(formatHostPort(from.address, from.port), data);
    } catch (error) {
      this.log.warn({ err: error }, 'gossip packet handler failed');
    }
  }

  private accept(socket: net.Socket): void {
    const source = socket.remoteAddress ?? '';
    const fromSource = this.inboundBySource.get(source) ?? 0;
    if (this.closed || this.inbound.size >= this.maxInboundStreams || fromSource >= this.maxInboundStreamsPerSource) {
      if (!this.closed) this.metrics.streamRefused('limit');
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    this.inboundBySource.set(source, fromSource + 1);
    const from = formatHostPort(socket.remoteAddress ?? '', socket.remotePort ?? 0);
    const reader = new FrameReader(this.maxExchangeSize);
    const stream = { answered: false };
    const timer = this.clock.setTimeout(() => {
      if (!stream.answered) this.metrics.streamRefused('timeout');
      socket.destroy();
    }, this.streamTimeoutMs);
    // The peer finished its side before a whole request: nothing more is coming.
    const onEnd = (): void => {
      this.metrics.packetDropped('truncated');
      socket.destroy();
    };
    const onData = (chunk: Buffer): void => {
      this.metrics.bytes('in', chunk.length);
      const request = reader.push(chunk);
      if (request === undefined) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (request === 'oversize') {
        this.metrics.packetDropped('oversize');
        socket.destroy();
        return;
      }
      void this.answer(socket, from, request, stream);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.on('error', () => {
      if (!stream.answered) this.metrics.streamRefused('error');
    });
    socket.on('close', () => {
      this.clock.clearTimeout(timer);
      this.inbound.delete(socket);
      const left = (this.inboundBySource.get(source) ?? 1) - 1;
      if (left === 0) this.inboundBySource.delete(source);
      else this.inboundBySource.set(source, left);
    });
  }

  /**
   * Writes the handler's answer, then closes the stream once the answer is handed to the
   * kernel (a peer that never closes its side does not hold a stream slot); no answer closes
   * it at once.
   */
  private async answer(socket: net.Socket, from: string, request: Buffer, stream: { answered: boolean }): Promise<void> {
    let answer: Uint8Array | undefined;
    try {
      answer = await this.handlers!.exchange(from, request);
    } catch (error) {
      this.log.warn({ err: error }, 'gossip exchange handler failed');
    }
    if (socket.destroyed) return;
    if (answer !== undefined && answer.length > this.maxExchangeSize) {
      this.metrics.packetNotSent('oversize');
      answer = undefined;
    }
    if (answer === undefined) {
      socket.destroy();
      return;
    }
    const frame = lengthPrefixed(answer);
    this.metrics.bytes('out', frame.length);
    stream.answered = true;
    socket.end(frame, () => socket.destroy());
  }
}

function listenTcp(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function bindUdp(udp: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      udp.close();
      reject(error);
    };
    udp.once('error', fail);
    udp.bind(port, address, () => {
      udp.off('error', fail);
      resolve();
    });
  });
}
