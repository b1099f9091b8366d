import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/clock.ts';
import { DecisionLog } from '../../../src/observability/decisions.ts';
import { nodeStats } from '../../../src/observability/node-stats.ts';
import type { TrafficView } from '../../../src/observability/traffic-stats.ts';

const figures = { requestsPerSecond: 4, errorPercent: 50, p50Ms: 2, p99Ms: 40 };
const traffic: TrafficView = {
  windowMs: 10_000,
  upstreams: [{ name: 'pay', ...figures, retries: 1, fallbacks: 2, ejections: 1, errors: { MESHLET_CIRCUIT_OPEN: 3 }, endpoints: [{ address: 'a:1', ...figures }, { address: 'b:1', ...figures }, { address: 'c:1', ...figures }] }],
};

describe('nodeStats', () => {
  it('puts each endpoint\'s breaker state, health, ejection and reachability next to its traffic, with the reasons the agent recorded', () => {
    const decisions = new DecisionLog(new FakeClock(), () => 5000);
    decisions.record({ kind: 'ejected', scope: 'pay', endpoint: 'b:1', reason: 'ejected for 30s (1st time): 5 failures in a row' });
    decisions.record({ kind: 'ejected', scope: 'other', endpoint: 'b:1', reason: 'not this one' });
    decisions.record({ kind: 'unreachable', scope: 'pay', endpoint: 'c:1', reason: 'unreachable: its connection was refused; …' });
    decisions.record({ kind: 'unreachable', scope: 'pay', endpoint: 'a:1', reason: 'unreachable once, reachable since' });
    const opened = { state: 'open' as const, lastTransition: { at: new Date(4000).toISOString(), reason: 'opened: 6 of 8 calls failed' } };
    const stats = nodeStats({
      node: 'n1',
      atMs: 6000,
      traffic,
      decisions: decisions.recent(),
      states: [{ name: 'pay', breaker: { state: 'closed', lastTransition: null }, endpoints: [
        { address: 'a:1', health: 'healthy', exclusions: ['breaker_open'], breaker: opened },
        { address: 'b:1', health: 'unhealthy', exclusions: ['ejected'], breaker: null },
        { address: 'c:1', health: 'unknown', exclusions: ['unreachable'], breaker: null },
      ] }],
    });
    expect(stats).toEqual({
      node: 'n1', atMs: 6000, windowMs: 10_000,
      upstreams: [{
        name: 'pay', ...figures, retries: 1, fallbacks: 2, ejections: 1, errors: { MESHLET_CIRCUIT_OPEN: 3 },
        breaker: { state: 'closed', reason: '', sinceMs: null },
        endpoints: [
          { address: 'a:1', health: 'healthy', breaker: { state: 'open', reason: 'opened: 6 of 8 calls failed', sinceMs: 4000 }, ejected: false, ejectionReason: '', unreachable: false, unreachableReason: '', ...figures },
          { address: 'b:1', health: 'unhealthy', breaker: null, ejected: true, ejectionReason: 'ejected for 30s (1st time): 5 failures in a row', unreachable: false, unreachableReason: '', ...figures },
          { address: 'c:1', health: 'unknown', breaker: null, ejected: false, ejectionReason: '', unreachable: true, unreachableReason: 'unreachable: its connection was refused; …', ...figures },
        ],
      }],
    });
  });
});
