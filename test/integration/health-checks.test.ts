// Active health checks against real servers in this process on 127.0.0.1: the health a user
// would see change, with fall and rise honoured, while the monitor's schedule runs on a
// FakeClock and each check is awaited (no sleeping for timers).
import * as grpc from '@grpc/grpc-js';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDemoProtos } from '../../src/cli/demo/echo-proto.ts';
import { FakeClock } from '../../src/clock.ts';
import type { HealthCheckConfig, HostPort, ServiceConfig } from '../../src/config/types.ts';
import type { CheckOutcome, HealthChecker } from '../../src/health/check-result.ts';
import { createChecker } from '../../src/health/create-checker.ts';
import { HealthMonitor, type HealthTransition } from '../../src/health/health-monitor.ts';
import { LocalHealth } from '../../src/health/local-health.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

class CountingMetrics {
  readonly counts = new Map<string, number>();
  checkCompleted(service: string, result: CheckOutcome): void {
    const key = `${service} ${result}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}

/** A monitor on a FakeClock; `next()` moves to the next check and waits for its result. */
function monitored(target: HostPort, health: Partial<HealthCheckConfig>) {
  const config: HealthCheckConfig = { interval: 3000, timeout: 1000, fall: 2, rise: 3, ...health };
  const clock = new FakeClock();
  const metrics = new CountingMetrics();
  const transitions: string[] = [];
  const record = (t: HealthTransition) => transitions.push(`${t.service}: ${t.previous} → ${t.current} (${t.reason})`);
  const monitor = new HealthMonitor('web', config, createChecker(target, config, clock), { clock, metrics, onTransition: record });
  cleanups.push(() => monitor.stop());
  return {
    clock,
    metrics,
    transitions,
    monitor,
    async first() {
      monitor.start();
      await monitor.idle();
    },
    async next(times = 1) {
      for (let i = 0; i < times; i++) {
        clock.advance(config.interval);
        await monitor.idle();
      }
    },
  };
}

/** Every connection the server accepted, and a promise that resolves once each has closed. */
function trackConnections(server: Server | HttpServer) {
  const open = new Set<Promise<void>>();
  let accepted = 0;
  server.on('connection', (socket: Socket) => {
    accepted++;
    open.add(new Promise((resolve) => socket.once('close', () => resolve())));
  });
  return { accepted: () => accepted, allClosed: () => Promise.all(open) };
}

async function listen(server: Server | HttpServer): Promise<HostPort> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { host: '127.0.0.1', port, text: `127.0.0.1:${port}` };
}

describe('HTTP health check', () => {
  it('passes on 200, falls after two 503s, rises after three 200s, and closes every connection', async () => {
    let status = 200;
    const server = createHttpServer((_req, res) => res.writeHead(status).end('body'));
    const connections = trackConnections(server);
    const m = monitored(await listen(server), { http: '/healthz' });

    await m.first();
    expect(m.monitor.health).toBe('passing');
    status = 503;
    await m.next();
    expect(m.monitor.health).toBe('passing');
    await m.next();
    expect(m.monitor.health).toBe('failing');
    status = 200;
    await m.next(2);
    expect(m.monitor.health).toBe('failing');
    await m.next();
    expect(m.transitions).toEqual(['web: unknown → passing (HTTP 200)', 'web: passing → failing (HTTP 503)', 'web: failing → passing (HTTP 200)']);
    expect([...m.metrics.counts]).toEqual([['web pass', 4], ['web fail', 2]]);
    expect(connections.accepted()).toBe(6);
    await connections.allClosed();
  });

  it('counts 3xx as passing and 4xx as failing', async () => {
    let status = 302;
    const server = createHttpServer((_req, res) => res.writeHead(status, { location: '/elsewhere' }).end());
    const m = monitored(await listen(server), { http: '/healthz', fall: 1 });
    await m.first();
    status = 404;
    await m.next();
    expect(m.transitions).toEqual(['web: unknown → passing (HTTP 302)', 'web: passing → failing (HTTP 404)']);
  });

  it('fails a target that accepts the request and never answers, at the timeout, and closes the connection', async () => {
    const server = createHttpServer(() => undefined);
    let arrived: () => void = () => undefined;
    server.on('request', () => arrived());
    const connections = trackConnections(server);
    const m = monitored(await listen(server), { http: '/healthz', timeout: 1000 });
    const requestSeen = new Promise<void>((resolve) => (arrived = resolve));
    m.monitor.start();
    await requestSeen;
    m.clock.advance(999);
    expect(m.monitor.health).toBe('unknown');
    m.clock.advance(1);
    await m.monitor.idle();
    expect(m.transitions).toEqual(['web: unknown → failing (timeout after 1s)']);
    expect(m.metrics.counts.get('web timeout')).toBe(1);
    await connections.allClosed();
  });

  it('fails a target that closes the connection at once, and one that answers garbage', async () => {
    const closing = createServer((socket) => socket.destroy());
    const m = monitored(await listen(closing), { http: '/healthz' });
    await m.first();
    expect(m.transitions).toEqual(['web: unknown → failing (connection closed before a response)']);

    // Reading, so the server sees the checker close its side.
    const garbage = createServer((socket) => socket.resume().end('hello there\r\n\r\n'));
    const connections = trackConnections(garbage);
    const g = monitored(await listen(garbage), { http: '/healthz' });
    await g.first();
    expect(g.transitions).toEqual(['web: unknown → failing (invalid HTTP response (HPE_INVALID_CONSTANT))']);
    await connections.allClosed();
  });

  it('fails with the connect error when nothing listens', async () => {
    const server = createServer();
    const target = await listen(server);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const m = monitored(target, { http: '/healthz' });
    await m.first();
    expect(m.transitions).toEqual(['web: unknown → failing (connect ECONNREFUSED)']);
  });
});

describe('TCP health check', () => {
  it('passes while the listener accepts and falls with ECONNREFUSED after it closes', async () => {
    const server = createServer((socket) => socket.resume());
    const connections = trackConnections(server);
    const target = await listen(server);
    const m = monitored(target, { tcp: true });
    await m.first();
    await m.next();
    await connections.allClosed();
    expect(connections.accepted()).toBe(2);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await m.next();
    expect(m.monitor.health).toBe('passing');
    await m.next();
    expect(m.transitions).toEqual(['web: unknown → passing (connected)', 'web: passing → failing (connect ECONNREFUSED)']);
  });
});

/** A TCP relay in front of `target` that counts the connections made through it. */
async function countingRelay(target: HostPort) {
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  const connections = trackConnections(relay);
  const address = await listen(relay);
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
  });
  return { address, connections };
}

async function grpcServer(health?: { status: () => string }): Promise<HostPort> {
  const server = new grpc.Server();
  if (health) {
    server.addService(loadDemoProtos().Health.service, {
      Check: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, { status: health.status() }),
      Watch: () => undefined,
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  cleanups.push(() => void server.forceShutdown());
  return { host: '127.0.0.1', port, text: `127.0.0.1:${port}` };
}

describe('gRPC health check', () => {
  it('passes on SERVING and falls on NOT_SERVING, over one connection kept from check to check', async () => {
    let status = 'SERVING';
    const relay = await countingRelay(await grpcServer({ status: () => status }));
    const m = monitored(relay.address, { grpc: true });
    await m.first();
    await m.next();
    status = 'NOT_SERVING';
    await m.next(2);
    expect(m.transitions).toEqual(['web: unknown → passing (SERVING)', 'web: passing → failing (NOT_SERVING)']);
    expect(relay.connections.accepted()).toBe(1);
    await m.monitor.stop();
    await relay.connections.allClosed();
  });

  it('fails a server without the health service as UNIMPLEMENTED', async () => {
    const m = monitored(await grpcServer(), { grpc: 'demo.v1.Echo' });
    await m.first();
    expect(m.transitions).toHaveLength(1);
    expect(m.transitions[0]).toMatch(/^web: unknown → failing \(gRPC UNIMPLEMENTED/);
  });

  it('fails with UNAVAILABLE when nothing listens', async () => {
    const server = createServer();
    const target = await listen(server);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const m = monitored(target, { grpc: true });
    await m.first();
    expect(m.transitions).toHaveLength(1);
    expect(m.transitions[0]).toMatch(/^web: unknown → failing \(gRPC UNAVAILABLE/);
  });

  it('fails a target that answers garbage instead of HTTP/2, and closes the connection', async () => {
    const server = createServer((socket) => socket.resume().end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const connections = trackConnections(server);
    const m = monitored(await listen(server), { grpc: true });
    await m.first();
    expect(m.transitions).toHaveLength(1);
    expect(m.transitions[0]).toMatch(/^web: unknown → failing \(gRPC (UNAVAILABLE|INTERNAL)/);
    await m.monitor.stop();
    await connections.allClosed();
  });

  it('fails a target that never answers, at the timeout', async () => {
    const server = createServer(() => undefined);
    const connections = trackConnections(server);
    const m = monitored(await listen(server), { grpc: true, timeout: 2000 });
    m.monitor.start();
    m.clock.advance(2000);
    await m.monitor.idle();
    expect(m.transitions).toEqual(['web: unknown → failing (timeout after 2s)']);
    await m.monitor.stop();
    await connections.allClosed();
  });
});

describe('the monitor', () => {
  /** A checker whose each check waits until the test answers it. */
  function heldChecker() {
    const pending: ((pass: boolean) => void)[] = [];
    const checker: HealthChecker = {
      check: () => new Promise((resolve) => pending.push((pass) => resolve({ outcome: pass ? 'pass' : 'fail', reason: pass ? 'ok' : 'bad' }))),
      close: () => undefined,
    };
    return { checker, pending };
  }

  it('does not start a second check while one is still running', async () => {
    const held = heldChecker();
    const clock = new FakeClock();
    const monitor = new HealthMonitor('web', { interval: 1000, timeout: 1000, fall: 1, rise: 1 }, held.checker, { clock, metrics: new CountingMetrics(), onTransition: () => undefined });
    monitor.start();
    clock.advance(3500);
    expect(held.pending).toHaveLength(1);
    held.pending[0]!(true);
    await monitor.idle();
    expect(monitor.health).toBe('passing');
    clock.advance(500);
    expect(held.pending).toHaveLength(2);
  });

  it('stops cleanly: the running check abandoned at once, its socket closed, no timer left, no result reported', async () => {
    const server = createHttpServer(() => undefined);
    let requests = 0;
    let arrived: () => void = () => undefined;
    server.on('request', () => {
      requests++;
      arrived();
    });
    const connections = trackConnections(server);
    const m = monitored(await listen(server), { http: '/healthz' });
    const requestSeen = new Promise<void>((resolve) => (arrived = resolve));
    m.monitor.start();
    await requestSeen;
    await m.monitor.stop();
    expect(m.clock.pendingTimers()).toBe(0);
    await connections.allClosed();
    m.clock.advance(30_000);
    await m.monitor.idle();
    expect(requests).toBe(1);
    expect(m.transitions).toEqual([]);
    expect(m.monitor.health).toBe('unknown');
  });
});

describe('the local services together', () => {
  const service = (name: string, target: HostPort, health?: Partial<HealthCheckConfig>): ServiceConfig => ({
    name,
    protocol: 'http',
    target,
    listen: { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' },
    timeout: 1000,
    ...(health ? { health: { interval: 3000, timeout: 1000, fall: 2, rise: 3, ...health } } : {}),
    limits: { maxConcurrent: 100 },
    weight: 1,
    zone: '',
  });

  it('checks the services with a health block and reports one without as unknown, unchecked', async () => {
    const server = createServer((socket) => socket.resume());
    const target = await listen(server);
    const clock = new FakeClock();
    const local = new LocalHealth([service('checked', target, { tcp: true }), service('unchecked', target)], { clock, metrics: new CountingMetrics() });
    const seen: string[] = [];
    local.subscribe((t) => seen.push(`${t.service} ${t.current}`));
    cleanups.push(() => local.stop());
    local.start();
    await local.idle();
    clock.advance(30_000);
    await local.idle();
    expect(seen).toEqual(['checked passing']);
    expect(local.health('checked')).toBe('passing');
    expect(local.health('unchecked')).toBe('unknown');
    await local.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('on a reload keeps the monitor of an unchanged check and starts a changed or new one afresh', async () => {
    const server = createServer((socket) => socket.resume());
    const target = await listen(server);
    const clock = new FakeClock();
    const metrics = new CountingMetrics();
    const tcp = { tcp: true as const };
    const local = new LocalHealth([service('kept', target, tcp), service('changed', target, tcp), service('removed', target, tcp)], { clock, metrics });
    const seen: string[] = [];
    local.subscribe((t) => seen.push(`${t.service}: ${t.previous} → ${t.current} (${t.reason})`));
    cleanups.push(() => local.stop());
    local.start();
    await local.idle();
    seen.length = 0;

    await local.update([service('kept', target, tcp), service('changed', target, { ...tcp, fall: 5 }), service('added', target, tcp)]);
    await local.idle();
    expect(seen).toEqual([
      'changed: passing → unknown (health check changed)',
      'removed: passing → unknown (health check removed)',
      'changed: unknown → passing (connected)',
      'added: unknown → passing (connected)',
    ]);
    expect(metrics.counts.get('kept pass')).toBe(1);
    expect(local.health('removed')).toBe('unknown');
  });
});
