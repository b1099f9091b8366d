import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { BreakerReport, MeshEvent } from '../../../src/control/control-proto.ts';
import { MeshWatchers, type MeshWatcher } from '../../../src/control/mesh-watchers.ts';
import { reportChanges } from '../../../src/control/report-changes.ts';

const event = (node: string): MeshEvent => ({ atMs: 0, node, kind: 'agent', agent: { node, softwareVersion: '', connected: true, version: 0, nack: null, lastSeenMs: 0, lastReport: null } });

/** A watcher whose stream sends nothing until `flush`. */
function stuckWatcher() {
  const queued: MeshEvent[] = [];
  const dropped: [grpc.status, string][] = [];
  const watcher: MeshWatcher = { write: (e) => queued.push(e), backlog: () => queued.length, drop: (code, reason) => dropped.push([code, reason]) };
  return { watcher, queued, dropped, flush: () => queued.splice(0) };
}

describe('mesh watchers', () => {
  it('drops a watcher that falls maxBacklog events behind, and keeps serving the others', () => {
    let droppedCount = 0;
    const watchers = new MeshWatchers(10, 3, () => droppedCount++);
    const slow = stuckWatcher();
    const fast = stuckWatcher();
    watchers.add(slow.watcher);
    watchers.add(fast.watcher);
    for (let i = 0; i < 5; i++) {
      watchers.publish(event(`n${i}`));
      fast.flush();
    }
    expect(slow.queued.length).toBe(3);
    expect(slow.dropped).toEqual([[grpc.status.RESOURCE_EXHAUSTED, expect.stringContaining('fell 3 events behind')]]);
    expect(droppedCount).toBe(1);
    expect(watchers.size).toBe(1);
    expect(fast.dropped).toEqual([]);
  });

  it('refuses watchers past the cap', () => {
    const watchers = new MeshWatchers(1, 10);
    expect(watchers.add(stuckWatcher().watcher)).toBe(true);
    expect(watchers.add(stuckWatcher().watcher)).toBe(false);
  });
});

describe('report changes', () => {
  const breaker: BreakerReport = { upstream: 'p', endpoint: 'e:1', state: 'BREAKER_STATE_OPEN', reason: 'failures', sinceMs: 0, node: '' };
  const endpoint = { upstream: 'p', address: 'e:1', health: 'healthy', ejected: false, ejectionReason: '', requestsPerSecond: 0, errorPercent: 0, p50Ms: 0, p99Ms: 0, node: '', unreachable: false, unreachableReason: '' };
  const report = (b: typeof breaker[], e: typeof endpoint[]) => ({ atMs: 0, breakers: b, endpoints: e, upstreams: [] });

  it('a first report is news only where something is wrong; later, every state or health change is', () => {
    const first = report([breaker, { ...breaker, endpoint: 'e:2', state: 'BREAKER_STATE_CLOSED' }], [endpoint]);
    expect(reportChanges('n', null, first, 1).map((e) => e.kind === 'breaker' && e.breaker.endpoint)).toEqual(['e:1']);
    const next = report([{ ...breaker, state: 'BREAKER_STATE_HALF_OPEN' }, { ...breaker, endpoint: 'e:2', state: 'BREAKER_STATE_CLOSED' }], [{ ...endpoint, ejected: true }]);
    const events = reportChanges('n', first, next, 2);
    expect(events).toMatchObject([
      { node: 'n', kind: 'breaker', breaker: { endpoint: 'e:1', state: 'BREAKER_STATE_HALF_OPEN', node: 'n' } },
      { node: 'n', kind: 'endpoint', endpoint: { ejected: true, node: 'n' } },
    ]);
    expect(reportChanges('n', next, next, 3)).toEqual([]);
  });

  it('an endpoint found unreachable, or reachable again, is news', () => {
    const up = report([], [endpoint]);
    const refused = report([], [{ ...endpoint, unreachable: true, unreachableReason: 'unreachable: its connection was refused; …' }]);
    expect(reportChanges('n', null, refused, 1)).toMatchObject([{ kind: 'endpoint', endpoint: { unreachable: true, node: 'n' } }]);
    expect(reportChanges('n', up, refused, 2)).toMatchObject([{ kind: 'endpoint', endpoint: { unreachable: true } }]);
    expect(reportChanges('n', refused, up, 3)).toMatchObject([{ kind: 'endpoint', endpoint: { unreachable: false } }]);
  });
});
