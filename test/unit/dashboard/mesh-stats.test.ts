import { describe, expect, it } from 'vitest';
import type { AgentReport, BreakerState } from '../../../src/control/control-proto.ts';
import { meshDecision, meshStats } from '../../../src/dashboard/mesh-stats.ts';

describe('meshStats', () => {
  it('gives each agent\'s last report the shape of its own /api/v1/stats, breakers matched to their upstream and endpoint', () => {
    const report: AgentReport = {
      atMs: 77,
      breakers: [
        { upstream: 'pay', endpoint: '', state: 'BREAKER_STATE_CLOSED', reason: '', sinceMs: 0, node: '' },
        { upstream: 'pay', endpoint: 'a:1', state: 'BREAKER_STATE_OPEN', reason: 'opened: 9 of 10 calls failed', sinceMs: 70, node: '' },
      ],
      endpoints: [
        { upstream: 'pay', address: 'a:1', health: 'healthy', ejected: true, ejectionReason: 'ejected for 30s', requestsPerSecond: 0, errorPercent: 0, p50Ms: 0, p99Ms: 0, node: '', unreachable: false, unreachableReason: '' },
        { upstream: 'other', address: 'c:1', health: '', ejected: false, ejectionReason: '', requestsPerSecond: 1, errorPercent: 0, p50Ms: 1, p99Ms: 2, node: '', unreachable: false, unreachableReason: '' },
      ],
      upstreams: [
        { name: 'pay', requestsPerSecond: 3, errorPercent: 10, p50Ms: 2, p99Ms: 9, retries: 1, fallbacks: 2, ejections: 1 },
        { name: 'other', requestsPerSecond: 1, errorPercent: 0, p50Ms: 1, p99Ms: 2, retries: 0, fallbacks: 0, ejections: 0 },
      ],
    };
    const mesh = meshStats(100, [{ node: 'n1', report }, { node: 'n2', report: null }]);
    expect(mesh.atMs).toBe(100);
    expect(mesh.nodes.map((n) => n.node)).toEqual(['n1']);
    const [pay, other] = mesh.nodes[0]!.upstreams;
    expect(pay).toMatchObject({ name: 'pay', retries: 1, fallbacks: 2, ejections: 1, breaker: { state: 'closed', reason: '', sinceMs: null } });
    expect(pay!.endpoints).toEqual([
      { address: 'a:1', health: 'healthy', breaker: { state: 'open', reason: 'opened: 9 of 10 calls failed', sinceMs: 70 }, ejected: true, ejectionReason: 'ejected for 30s', unreachable: false, unreachableReason: '', requestsPerSecond: 0, errorPercent: 0, p50Ms: null, p99Ms: null },
    ]);
    expect(other!.endpoints).toEqual([{ address: 'c:1', health: 'unknown', breaker: null, ejected: false, ejectionReason: '', unreachable: false, unreachableReason: '', requestsPerSecond: 1, errorPercent: 0, p50Ms: 1, p99Ms: 2 }]);
  });

  it('turns breaker, ejection and reachability events into decisions carrying their node, and nothing else', () => {
    const breaker = { upstream: 'pay', endpoint: 'a:1', state: 'BREAKER_STATE_HALF_OPEN' as BreakerState, reason: 'half-open after 30s', sinceMs: 5, node: 'n1' };
    expect(meshDecision({ atMs: 5, node: 'n1', kind: 'breaker', breaker })).toEqual({ kind: 'breaker_half_open', node: 'n1', scope: 'pay', endpoint: 'a:1', reason: 'half-open after 30s' });
    const endpoint = { upstream: 'pay', address: 'a:1', health: 'healthy', ejected: true, ejectionReason: 'ejected for 30s', requestsPerSecond: 0, errorPercent: 0, p50Ms: 0, p99Ms: 0, node: 'n1', unreachable: false, unreachableReason: '' };
    expect(meshDecision({ atMs: 5, node: 'n1', kind: 'endpoint', endpoint })).toMatchObject({ kind: 'ejected', node: 'n1', reason: 'ejected for 30s' });
    const refused = { ...endpoint, ejected: false, ejectionReason: '', unreachable: true, unreachableReason: 'unreachable: its connection was refused; …' };
    expect(meshDecision({ atMs: 5, node: 'n1', kind: 'endpoint', endpoint: refused })).toEqual({ kind: 'unreachable', node: 'n1', scope: 'pay', endpoint: 'a:1', reason: 'unreachable: its connection was refused; …' });
    expect(meshDecision({ atMs: 6, node: 'n1', kind: 'endpoint', endpoint: { ...refused, unreachable: false, unreachableReason: '' } })).toMatchObject({ kind: 'unejected', reason: 'back in the balancer' });
    const agent = { node: 'n1', softwareVersion: '0.1.0', connected: true, version: 3, nack: null, lastSeenMs: 5, lastReport: null };
    expect(meshDecision({ atMs: 5, node: 'n1', kind: 'agent', agent })).toBeUndefined();
  });
});
