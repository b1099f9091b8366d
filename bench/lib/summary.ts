import type { Measurement } from './measure.ts';
import { median } from './percentile.ts';
import type { RowName, ScenarioId } from './scenarios.ts';

/** Medians over the rounds of one row under one scenario. */
export interface CellSummary {
  readonly rounds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Summed over the rounds, not a median: any error is worth seeing. */
  readonly errors: number;
  readonly cpuUsPerRequest: number;
  readonly rssKiB: number;
  /** NaN when the row has no process of its own (direct). */
  readonly idleRssKiB: number;
}

export type Summary = ReadonlyMap<ScenarioId, ReadonlyMap<RowName, CellSummary>>;

export function summarize(measurements: readonly Measurement[], idleRssKiB: (scenario: ScenarioId, row: RowName) => number | undefined): Summary {
  const cells = new Map<ScenarioId, Map<RowName, Measurement[]>>();
  for (const m of measurements) {
    const byRow = cells.get(m.scenario) ?? new Map<RowName, Measurement[]>();
    cells.set(m.scenario, byRow);
    byRow.set(m.row, [...(byRow.get(m.row) ?? []), m]);
  }
  const summary = new Map<ScenarioId, Map<RowName, CellSummary>>();
  for (const [scenario, byRow] of cells) {
    const rows = new Map<RowName, CellSummary>();
    for (const [row, runs] of byRow) {
      const of = (pick: (m: Measurement) => number | null): number => median(runs.map((m) => pick(m) ?? NaN));
      rows.set(row, {
        rounds: runs.length,
        requestsPerSecond: of((m) => m.requestsPerSecond),
        p50Ms: of((m) => m.p50Ms),
        p99Ms: of((m) => m.p99Ms),
        errors: runs.reduce((sum, m) => sum + m.errors, 0),
        cpuUsPerRequest: of((m) => m.cpuUsPerRequest),
        rssKiB: of((m) => m.rssKiB),
        idleRssKiB: idleRssKiB(scenario, row) ?? NaN,
      });
    }
    summary.set(scenario, rows);
  }
  return summary;
}
