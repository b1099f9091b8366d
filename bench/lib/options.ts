import { parseArgs } from 'node:util';
import { GOSSIP_SYSTEMS } from '../gossip/cluster.ts';
import type { ControlOptions } from '../control/run-control.ts';
import type { GossipOptions } from '../gossip/run-gossip.ts';
import { DEFAULT_ROWS, ROW_NAMES, SCENARIOS, type RowName, type Scenario } from './scenarios.ts';

export interface BenchOptions {
  readonly durationS: number;
  readonly rounds: number;
  readonly warmupS: number;
  readonly rows: readonly RowName[];
  readonly scenarios: readonly Scenario[];
  /** The git ref whose agent runs as the meshlet-base row, if any. */
  readonly baseline?: string;
  /** Throughput (rows × scenarios), the fault scenarios (meshlet and HAProxy), gossip (meshlet and Serf), or several. */
  readonly suites: readonly Suite[];
  readonly gossip: GossipOptions;
  readonly control: ControlOptions;
}

export const SUITES = ['throughput', 'faults', 'gossip', 'control'] as const;
const GOSSIP_SIZES = [10, 25, 50] as const;
/** 127.0.0.2 up to 127.0.0.254. */
const MAX_GOSSIP_SIZE = 253;
export type Suite = (typeof SUITES)[number];

export const USAGE = `usage: npm run bench -- [--duration S] [--rounds N] [--warmup S] [--rows a,b] [--scenarios a,b] [--against REF]
  --duration   seconds of load per row, scenario and round (default 8)
  --rounds     rounds; each runs every row, and the report shows medians (default 3)
  --warmup     seconds of discarded load per row and scenario before round 1 (default 2; 0 for none)
  --rows       subset of ${ROW_NAMES.join(',')} (default all but meshlet-base)
  --scenarios  subset of ${SCENARIOS.map((s) => s.id).join(',')}
  --against   a git ref (commit, HEAD~1, branch); its agent runs as the meshlet-base row, next to meshlet
  --suite      throughput, faults, gossip, control, or a list of them (default: the suites the other
               flags given tune, e.g. --rows or --rounds: throughput; with none, all four)
  --gossip-sizes    cluster sizes of the gossip suite (default ${GOSSIP_SIZES.join(',')})
  --gossip-systems  subset of ${GOSSIP_SYSTEMS.join(',')}
  --gossip-stress   seconds of stress-ng on both cores per cluster (default 60; 10 for a smoke run)
  --gossip-idle     seconds of idle gossip the bytes per member are counted over (default 30)
  --gossip-kills    members killed -9 one after another per cluster, each timed and restarted (default 5)
  --control-agents    real agent processes connected to one meshlet control (default 50)
  --control-versions  policy versions applied one after another, each timed until every agent ACKed it (default 10)`;

function positiveInteger(name: string, raw: string, allowZero = false): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) throw new Error(`--${name} must be a whole number${allowZero ? '' : ' above 0'}, got ${raw}\n${USAGE}`);
  return value;
}

function subset<T extends string>(name: string, raw: string | undefined, all: readonly T[], byDefault: readonly T[] = all): T[] {
  if (raw === undefined) return [...byDefault];
  const picked = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = picked.filter((p) => !all.includes(p as T));
  if (unknown.length > 0 || picked.length === 0) throw new Error(`--${name}: unknown ${unknown.join(', ') || '(empty)'}; choose from ${all.join(', ')}`);
  return all.filter((item) => picked.includes(item));
}

/** The flags that tune each suite: given without --suite, they pick the suites they tune. */
const SUITE_FLAGS: Readonly<Record<Suite, readonly string[]>> = {
  throughput: ['duration', 'rounds', 'warmup', 'rows', 'scenarios', 'against'],
  faults: [],
  gossip: ['gossip-sizes', 'gossip-systems', 'gossip-stress', 'gossip-idle', 'gossip-kills'],
  control: ['control-agents', 'control-versions'],
};

/** --suite; else the suites the flags given tune (`--rounds 1` is a throughput run, not all four); else all four. */
function suitesFor(values: Readonly<Record<string, string | boolean | undefined>>): Suite[] {
  if (values.suite !== undefined) return subset('suite', values.suite as string, SUITES);
  const tuned = SUITES.filter((suite) => SUITE_FLAGS[suite].some((flag) => values[flag] !== undefined));
  return tuned.length > 0 ? tuned : [...SUITES];
}

/** Parses the bench's flags; throws with the usage text on anything it does not understand. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      rows: { type: 'string' },
      scenarios: { type: 'string' },
      against: { type: 'string' },
      suite: { type: 'string' },
      'gossip-sizes': { type: 'string' },
      'gossip-systems': { type: 'string' },
      'gossip-stress': { type: 'string' },
      'gossip-idle': { type: 'string' },
      'gossip-kills': { type: 'string' },
      'control-agents': { type: 'string' },
      'control-versions': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const scenarioIds = subset('scenarios', values.scenarios, SCENARIOS.map((s) => s.id));
  const baseline = values.against?.trim();
  if (baseline === '') throw new Error(`--against needs a git ref\n${USAGE}`);
  const picked = subset('rows', values.rows, ROW_NAMES, DEFAULT_ROWS);
  if (baseline === undefined && picked.includes('meshlet-base')) throw new Error(`--rows meshlet-base needs --against REF\n${USAGE}`);
  return {
    durationS: positiveInteger('duration', values.duration ?? '8'),
    rounds: positiveInteger('rounds', values.rounds ?? '3'),
    warmupS: positiveInteger('warmup', values.warmup ?? '2', true),
    // --against exists to run meshlet-base, so it joins whatever rows were picked.
    rows: baseline === undefined ? picked : ROW_NAMES.filter((row) => row === 'meshlet-base' || picked.includes(row)),
    scenarios: SCENARIOS.filter((s) => scenarioIds.includes(s.id)),
    baseline,
    suites: suitesFor(values),
    gossip: {
      sizes: gossipSizes(values['gossip-sizes']),
      systems: subset('gossip-systems', values['gossip-systems'], GOSSIP_SYSTEMS),
      stressS: positiveInteger('gossip-stress', values['gossip-stress'] ?? '60'),
      idleS: positiveInteger('gossip-idle', values['gossip-idle'] ?? '30'),
      kills: positiveInteger('gossip-kills', values['gossip-kills'] ?? '5'),
    },
    control: {
      agents: positiveInteger('control-agents', values['control-agents'] ?? '50'),
      versions: positiveInteger('control-versions', values['control-versions'] ?? '10'),
    },
  };
}

/** Cluster sizes: at least 2 (a seed and the member whose join is timed), at most one per 127.0.0.x. */
function gossipSizes(raw: string | undefined): number[] {
  if (raw === undefined) return [...GOSSIP_SIZES];
  const sizes = raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => positiveInteger('gossip-sizes', s));
  const bad = sizes.filter((n) => n < 2 || n > MAX_GOSSIP_SIZE);
  if (sizes.length === 0 || bad.length > 0) throw new Error(`--gossip-sizes: each size must be 2..${MAX_GOSSIP_SIZE}, got ${raw}\n${USAGE}`);
  return sizes;
}
