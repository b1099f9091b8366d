// What an agent reports of an endpoint it cannot connect to: unreachable, with the reason it
// recorded, until it is reachable again; and such a decision sends a report at once.
import { describe, expect, it } from 'vitest';
import { REPORTED_DECISIONS, ControlReports } from '../../../src/agent/control-report.ts';
import { outcomeOf } from '../../../src/proxy/call/outcome.ts';
import { catalogConfig } from '../../helpers/in-memory-forwarder.ts';
import { observeAttempt, upstreamHarness } from '../upstream/fixtures.ts';

describe("an agent's control report", () => {
  it('marks an unreachable endpoint with the reason the agent recorded, until a call there succeeds', () => {
    const h = upstreamHarness();
    const upstream = h.build(catalogConfig(['10.0.0.1:80', '10.0.0.2:80']));
    const reports = new ControlReports({ decisions: h.deps.decisions, metrics: h.deps.metrics, upstreams: () => [upstream], traffic: { read: () => ({ windowMs: 0, upstreams: [] }) } }, () => 1000);
    const endpointOf = (address: string) => reports.build().endpoints.find((e) => e.address === address)!;
    expect(endpointOf('10.0.0.1:80')).toMatchObject({ unreachable: false, unreachableReason: '' });

    observeAttempt(upstream, '10.0.0.1:80', outcomeOf(0, undefined, 'connect_failed', 0.2));
    expect(endpointOf('10.0.0.1:80')).toMatchObject({ upstream: 'catalog', unreachable: true, unreachableReason: expect.stringMatching(/^unreachable: its connection was refused;/), ejected: false });
    expect(endpointOf('10.0.0.2:80')).toMatchObject({ unreachable: false });

    observeAttempt(upstream, '10.0.0.1:80', outcomeOf(200, undefined, undefined, 2));
    expect(endpointOf('10.0.0.1:80')).toMatchObject({ unreachable: false, unreachableReason: '' });
    expect(REPORTED_DECISIONS.has('unreachable') && REPORTED_DECISIONS.has('reachable')).toBe(true);
    reports.close();
    upstream.close();
  });
});
