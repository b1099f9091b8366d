import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { AgentRegistry, type AgentSession } from '../../../src/control/agent-registry.ts';
import type { EndpointReport, Hello } from '../../../src/control/control-proto.ts';

const hello = (node: string): Hello => ({ node, version: '1', services: [], upstreams: [], policyVersion: 0 });
const session = (): AgentSession & { closed: string[] } => {
  const closed: string[] = [];
  return { closed, close: (reason) => closed.push(reason) };
};

function registry(maxAgents = 3, retainDisconnectedMs = 60_000) {
  const clock = new FakeClock();
  return { clock, agents: new AgentRegistry({ maxAgents, retainDisconnectedMs, clock, wallNow: () => 1_000 + clock.now() }) };
}

describe('agent registry', () => {
  it('refuses a new agent past the cap while all are connected, and names the limit', () => {
    const { agents } = registry(2);
    expect(agents.connect(hello('a'), session()).ok).toBe(true);
    expect(agents.connect(hello('b'), session()).ok).toBe(true);
    expect(agents.connect(hello('c'), session())).toEqual({ ok: false, reason: 'the control plane holds its limit of 2 agents' });
    expect(agents.size).toBe(2);
    // A known node reconnecting is not a new agent.
    expect(agents.connect(hello('a'), session()).ok).toBe(true);
  });

  it('makes room by dropping the longest-disconnected agent', () => {
    const { agents, clock } = registry(2);
    const a = session();
    const b = session();
    const ra = agents.connect(hello('a'), a);
    const rb = agents.connect(hello('b'), b);
    if (!ra.ok || !rb.ok) throw new Error('connect');
    agents.disconnect(ra.record, a);
    clock.advance(10);
    agents.disconnect(rb.record, b);
    expect(agents.connect(hello('c'), session()).ok).toBe(true);
    expect(agents.list().map((s) => s.node)).toEqual(['b', 'c']);
  });

  it('keeps a disconnected agent for the retention, then the sweep drops it', () => {
    const { agents, clock } = registry(10, 60_000);
    const s = session();
    const r = agents.connect(hello('gone'), s);
    if (!r.ok) throw new Error('connect');
    agents.disconnect(r.record, s);
    clock.advance(59_999);
    expect(agents.sweep()).toBe(0);
    expect(agents.list()).toMatchObject([{ node: 'gone', connected: false }]);
    clock.advance(1);
    expect(agents.sweep()).toBe(1);
    expect(agents.size).toBe(0);
  });

  it('a reconnect closes the old session, and the old session’s end does not mark the agent gone', () => {
    const { agents } = registry();
    const first = session();
    const r1 = agents.connect(hello('a'), first);
    const second = session();
    const r2 = agents.connect(hello('a'), second);
    if (!r1.ok || !r2.ok) throw new Error('connect');
    expect(first.closed).toEqual(['replaced by a newer connection of node a']);
    expect(agents.disconnect(r1.record, first)).toBe(false);
    expect(agents.list()).toMatchObject([{ node: 'a', connected: true }]);
  });

  it('an ack clears a nack of the same or an earlier version; mesh status counts agents on the current version', () => {
    const { agents } = registry();
    const r = agents.connect(hello('a'), session());
    const q = agents.connect(hello('b'), session());
    if (!r.ok || !q.ok) throw new Error('connect');
    agents.nack(r.record, { version: 2, errors: [{ path: 'x', message: 'y' }] });
    agents.ack(r.record, 1);
    expect(agents.list()[0]).toMatchObject({ version: 1, nack: { version: 2 } });
    agents.ack(r.record, 2);
    expect(agents.list()[0]).toMatchObject({ version: 2, nack: null, lastSeenMs: 1_000 });
    expect(agents.meshStatus(2)).toMatchObject({ agents: 2, agentsConnected: 2, agentsOnCurrent: 1 });
  });

  it('mesh status lists each agent’s ejected and unreachable endpoints under its node, and no others', () => {
    const { agents } = registry();
    const endpoint = (address: string, state: Partial<EndpointReport>): EndpointReport => ({
      upstream: 'payments', address, health: 'healthy', ejected: false, ejectionReason: '', requestsPerSecond: 0,
      errorPercent: 0, p50Ms: 0, p99Ms: 0, node: '', unreachable: false, unreachableReason: '', ...state,
    });
    const a = agents.connect(hello('a'), session());
    const b = agents.connect(hello('b'), session());
    if (!a.ok || !b.ok) throw new Error('connect');
    agents.report(a.record, { atMs: 1, breakers: [], upstreams: [], endpoints: [
      endpoint('10.0.0.1:80', { ejected: true, ejectionReason: '5 consecutive 5xx' }),
      endpoint('10.0.0.2:80', {}),
    ] });
    agents.report(b.record, { atMs: 1, breakers: [], upstreams: [], endpoints: [
      endpoint('10.0.0.3:80', { unreachable: true, unreachableReason: 'unreachable: its connection was refused' }),
    ] });
    const status = agents.meshStatus(0);
    expect(status.ejectedEndpoints.map((e) => [e.node, e.address, e.ejectionReason])).toEqual([['a', '10.0.0.1:80', '5 consecutive 5xx']]);
    expect(status.unreachableEndpoints.map((e) => [e.node, e.address, e.unreachableReason])).toEqual([['b', '10.0.0.3:80', 'unreachable: its connection was refused']]);
  });
});
