import type { MachineInfo } from './machine-info.ts';
import { rowsFor, type RowName, type Scenario } from './scenarios.ts';
import type { CellSummary, Summary } from './summary.ts';
import { formatTargetCheck, type TargetCheck } from './targets.ts';

export interface ReportInput {
  readonly startedAt: Date;
  readonly machine: MachineInfo;
  readonly rounds: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly scenarios: readonly Scenario[];
  readonly rows: readonly RowName[];
  readonly summary: Summary;
  /** "meshlet: unavailable (why)" lines. */
  readonly unavailable: readonly string[];
  readonly targets: readonly TargetCheck[];
}

const DASH = '—';
const MIB = 1024;

function num(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : DASH;
}

function ms(value: number): string {
  return num(value, Math.abs(value) < 1 ? 3 : 2);
}

/** a ÷ b; none when b is not positive (an added p50 at or below zero is noise, not a baseline). */
function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : DASH;
}

function scenarioTable(scenario: Scenario, input: ReportInput): string[] {
  const cells = input.summary.get(scenario.id);
  const direct = cells?.get('direct');
  const lines = [
    `## ${scenario.title}`,
    '',
    '| proxy | req/s | p50 ms | p99 ms | added p50 ms | proxy CPU µs/req | idle RSS MiB | loaded RSS MiB | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rowsFor(scenario, input.rows)) {
    const cell = cells?.get(row);
    if (!cell) {
      lines.push(`| ${row} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | unavailable |`);
      continue;
    }
    const added = row === 'direct' || !direct ? NaN : cell.p50Ms - direct.p50Ms;
    lines.push(`| ${row} | ${num(cell.requestsPerSecond, 0)} | ${ms(cell.p50Ms)} | ${ms(cell.p99Ms)} | ${ms(added)} | ${num(cell.cpuUsPerRequest, 1)} | ${num(cell.idleRssKiB / MIB, 1)} | ${num(cell.rssKiB / MIB, 1)} | ${cell.errors} |`);
  }
  return [...lines, ''];
}

function ratioTable(input: ReportInput): string[] {
  const lines = [
    '## meshlet ÷ the others',
    '',
    'Reference is bare-node for HTTP/1.1 and naive-h2 for h2c and gRPC. Added p50 is p50 minus direct p50.',
    '',
    '| scenario | req/s ÷ direct | req/s ÷ reference | req/s ÷ haproxy | added p50 ÷ reference | added p50 ÷ haproxy | CPU/req ÷ reference | CPU/req ÷ haproxy |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const scenario of input.scenarios) {
    const cells = input.summary.get(scenario.id);
    const get = (row: RowName): CellSummary | undefined => cells?.get(row);
    const meshlet = get('meshlet');
    const directP50 = get('direct')?.p50Ms ?? NaN;
    const added = (row: RowName): number | undefined => {
      const cell = get(row);
      return cell && cell.p50Ms - directP50;
    };
    lines.push(`| ${scenario.id} | ${[
      ratio(meshlet?.requestsPerSecond, get('direct')?.requestsPerSecond),
      ratio(meshlet?.requestsPerSecond, get(scenario.reference)?.requestsPerSecond),
      ratio(meshlet?.requestsPerSecond, get('haproxy')?.requestsPerSecond),
      ratio(added('meshlet'), added(scenario.reference)),
      ratio(added('meshlet'), added('haproxy')),
      ratio(meshlet?.cpuUsPerRequest, get(scenario.reference)?.cpuUsPerRequest),
      ratio(meshlet?.cpuUsPerRequest, get('haproxy')?.cpuUsPerRequest),
    ].join(' | ')} |`);
  }
  return [...lines, ''];
}

/** The whole Markdown report: machine header, one table per scenario, ratios, target checks. */
export function renderReport(input: ReportInput): string {
  const m = input.machine;
  return [
    `# Meshlet benchmark, ${input.startedAt.toISOString()}`,
    '',
    `- CPU: ${m.cpuModel}, ${m.cores} cores; load generators, upstreams and harness pinned to CPU 0, the proxy under test to CPU 1`,
    `- Node ${m.node}; ${m.haproxy}; ${m.wrk}; ${m.h2load}; Linux ${m.kernel}`,
    `- Load average when started: ${num(m.loadAverage, 2)} (other work on the machine shows up as tail latency)`,
    `- ${input.rounds} round(s) of ${input.durationS} s per run after a ${input.warmupS} s warm-up; every row runs in every round, interleaved; figures are medians over rounds, errors are summed`,
    '- Upstreams answer 100 bytes (HTTP/1.1, h2c) or echo "hello" (gRPC unary, grpc-js); gRPC successes are checked against the calls the upstream answered',
    ...input.unavailable.map((line) => `- ${line}`),
    '',
    ...input.scenarios.flatMap((scenario) => scenarioTable(scenario, input)),
    ...ratioTable(input),
    '## Targets',
    '',
    ...input.targets.map((check) => `- ${formatTargetCheck(check)}`),
    '',
  ].join('\n');
}
