import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { AgentConnection, DEFAULT_CONNECT_LIMITS, type ConnectionContext } from '../../../src/control/agent-connection.ts';
import { AgentRegistry } from '../../../src/control/agent-registry.ts';
import { ControlMetrics } from '../../../src/control/control-metrics.ts';
import type { AgentMessage, PolicySnapshot } from '../../../src/control/control-proto.ts';
import { MeshWatchers } from '../../../src/control/mesh-watchers.ts';
import { createLogger } from '../../../src/observability/logger.ts';

/** A Connect call as grpc-js gives it to the handler: the test writes to it and reads what it sent. */
class FakeCall extends EventEmitter {
  readonly sent: PolicySnapshot[] = [];
  status: { code: grpc.status; details: string } | undefined;
  ended = false;
  accepting = true;
  constructor() {
    super();
    this.on('error', (e: { code: grpc.status; details: string }) => (this.status = { code: e.code, details: e.details }));
  }
  write(message: { snapshot: PolicySnapshot }): boolean {
    this.sent.push(message.snapshot);
    return this.accepting;
  }
  end(): void {
    this.ended = true;
  }
  receive(message: AgentMessage): void {
    this.emit('data', message);
  }
}

const snapshot = (version: number): PolicySnapshot => ({ version, documentJson: '{}', createdAtMs: 0, author: '', rolledBackFrom: 0 });

function setup(current = snapshot(1)) {
  const clock = new FakeClock();
  const metrics = new ControlMetrics({ agentsConnected: () => 0, agentsKnown: () => 0, watchers: () => 0, policyVersion: () => 0 });
  const registry = new AgentRegistry({ maxAgents: 10, retainDisconnectedMs: 1000, clock, wallNow: () => 0 });
  let pending = 1;
  const context: ConnectionContext = {
    registry, watchers: new MeshWatchers(1, 1), metrics, clock, wallNow: () => 0,
    logger: createLogger({ level: 'silent', name: 'test' }), limits: DEFAULT_CONNECT_LIMITS,
    current: () => current, track: () => undefined,
  };
  const call = new FakeCall();
  const connection = new AgentConnection(call as never, context, () => pending--);
  return { clock, call, connection, registry, pending: () => pending };
}

const hello: AgentMessage = { kind: 'hello', hello: { node: 'a', version: '1', services: [], upstreams: [], policyVersion: 0 } };

describe('agent connection', () => {
  it('refuses a stream that sends no hello within the timeout, on the injected clock', () => {
    const { clock, call, pending } = setup();
    clock.advance(DEFAULT_CONNECT_LIMITS.helloTimeoutMs - 1);
    expect(call.status).toBeUndefined();
    clock.advance(1);
    expect(call.status).toEqual({ code: grpc.status.DEADLINE_EXCEEDED, details: 'no hello within 10000 ms of opening Connect' });
    expect(pending()).toBe(0);
  });

  it('after hello, sends the current snapshot and cancels the timeout', () => {
    const { clock, call, registry, pending } = setup();
    call.receive(hello);
    expect(call.sent.map((s) => s.version)).toEqual([1]);
    expect(pending()).toBe(0);
    clock.advance(60_000);
    expect(call.status).toBeUndefined();
    expect(registry.list()).toMatchObject([{ node: 'a', connected: true }]);
  });

  it('while the stream is backed up, keeps only the newest snapshot and sends it on drain', () => {
    const { call, connection } = setup();
    call.receive(hello);
    call.accepting = false;
    connection.push(snapshot(2));
    connection.push(snapshot(3));
    connection.push(snapshot(4));
    expect(call.sent.map((s) => s.version)).toEqual([1, 2]);
    call.accepting = true;
    call.emit('drain');
    expect(call.sent.map((s) => s.version)).toEqual([1, 2, 4]);
  });

  it('marks the agent disconnected when the client goes away', () => {
    const { call, registry } = setup();
    call.receive(hello);
    call.emit('cancelled');
    expect(registry.list()).toMatchObject([{ node: 'a', connected: false }]);
  });
});
