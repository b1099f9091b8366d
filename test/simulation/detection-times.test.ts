// Failure detection against the figures memberlist's timing gives (Serf's LAN profile, the
// defaults here): a kill is first probed within about a second, the probe fails a second
// later, and the suspicion, confirmed by others, runs out after suspicionMultiplier ×
// log10(n) intervals; then the dead news spreads. Measured per cluster size over seeded
// runs, on a quiet cluster and right after a minute of load (as the bench kills after its
// stress run), when the local health scores the load raised are still coming down.
import { describe, expect, it } from 'vitest';
import { DEFAULT_GOSSIP_SETTINGS } from '../../src/gossip/settings.ts';
import { suspicionTimeout } from '../../src/gossip/timing.ts';
import { detectionSummary, median } from './detection-times.ts';

const SIZES = [10, 25, 50];
const SEEDS = Array.from({ length: 21 }, (_, i) => 100 + i);
const LOAD_LAG_MS = 300;

describe('failure detection times', () => {
  it('match memberlist’s timing at n = 10, 25 and 50, quiet or just after a minute of load', async () => {
    const rows = [];
    for (const n of SIZES) {
      const quiet = (await detectionSummary(n, SEEDS)).summary;
      const afterLoad = (await detectionSummary(n, SEEDS, { lagBeforeMs: LOAD_LAG_MS })).summary;
      const minSuspicion = suspicionTimeout(DEFAULT_GOSSIP_SETTINGS.suspicionMultiplier, n, DEFAULT_GOSSIP_SETTINGS.probeIntervalMs);
      rows.push({ n, minSuspicion, quietMedian: quiet.medianMs, quietMax: quiet.maxMs, afterLoadMedian: afterLoad.medianMs, afterLoadMax: afterLoad.maxMs, quiet, afterLoad });
    }
    console.table(rows.map(({ quiet: _q, afterLoad: _a, ...row }) => row));
    for (const { n, minSuspicion, quiet, afterLoad } of rows) {
      // The first probe within about a second, its interval 1 s, the confirmed suspicion, the
      // dead news spreading.
      expect(quiet.medianMs, `quiet median, n = ${n}`).toBeLessThanOrEqual(minSuspicion + 3000);
      // The load is over: a member killed now is found about as fast as on a quiet cluster.
      expect(afterLoad.medianMs, `median after load, n = ${n}`).toBeLessThanOrEqual(quiet.medianMs + 1000);
    }
  }, 120_000);

  it('spreads a death to every survivor within network round trips of the first to declare it, not gossip ticks', async () => {
    const spreads = [];
    for (const n of SIZES) {
      const { runs } = await detectionSummary(n, SEEDS.slice(0, 7));
      spreads.push(...runs.map((r) => ({ n, seed: r.seed, spreadMs: r.allDeadMs - r.firstDeadMs })));
    }
    console.table(spreads);
    // A hop waiting for its tick takes half a gossip interval (200 ms) on average, and 50
    // members need three or four (median 250 ms when every hop waited). Passed on at once, the
    // news reaches most members in a few round trips; the few that one push each missed hear
    // at the next ticks.
    expect(median(spreads.map((s) => s.spreadMs))).toBeLessThan(DEFAULT_GOSSIP_SETTINGS.gossipIntervalMs / 4);
    for (const { n, seed, spreadMs } of spreads) expect(spreadMs, `n = ${n}, seed ${seed}`).toBeLessThan(2 * DEFAULT_GOSSIP_SETTINGS.gossipIntervalMs);
  }, 120_000);
});
