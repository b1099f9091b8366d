import { agentV8FlagsFor } from '../../src/cli/agent-v8-flags.ts';
import { baselineLabel, type Baseline } from './baseline.ts';
import type { MachineInfo } from './machine-info.ts';
import { MESHLET_ROWS, rowsFor, type MeshletRowName, type RowName, type Scenario } from './scenarios.ts';
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
  /** The commit the meshlet-base row ran, when the bench had `--against`. */
  readonly baseline?: Pick<Baseline, 'ref' | 'commit' | 'shortCommit' | 'subject' | 'v8Flags'>;
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

/** A section's heading, optional note, and the header of its table: `textColumns` left-aligned, the rest numbers. */
function tableSection(title: string, columns: readonly string[], textColumns: number, note?: string): string[] {
  return [
    `## ${title}`,
    '',
    ...(note === undefined ? [] : [note, '']),
    `| ${columns.join(' | ')} |`,
    `|${columns.map((_, i) => (i < textColumns ? '---' : '---:')).join('|')}|`,
  ];
}

/** A row as the report names it: meshlet-base is `meshlet@<short sha>`. */
function label(row: RowName, input: ReportInput): string {
  return row === 'meshlet-base' && input.baseline ? baselineLabel(input.baseline) : row;
}

function scenarioTable(scenario: Scenario, input: ReportInput): string[] {
  const cells = input.summary.get(scenario.id);
  const direct = cells?.get('direct');
  const lines = tableSection(scenario.title,
    ['proxy', 'req/s', 'p50 ms', 'p99 ms', 'added p50 ms', 'proxy CPU µs/req', 'idle RSS MiB', 'loaded RSS MiB', 'errors'], 1);
  for (const row of rowsFor(scenario, input.rows)) {
    const cell = cells?.get(row);
    if (!cell) {
      lines.push(`| ${label(row, input)} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | ${DASH} | unavailable |`);
      continue;
    }
    const added = row === 'direct' || !direct ? NaN : cell.p50Ms - direct.p50Ms;
    lines.push(`| ${label(row, input)} | ${num(cell.requestsPerSecond, 0)} | ${ms(cell.p50Ms)} | ${ms(cell.p99Ms)} | ${ms(added)} | ${num(cell.cpuUsPerRequest, 1)} | ${num(cell.idleRssKiB / MIB, 1)} | ${num(cell.rssKiB / MIB, 1)} | ${cell.errors} |`);
  }
  return [...lines, ''];
}

/** The meshlet rows this run selected, in table order. */
function meshletRows(input: ReportInput): MeshletRowName[] {
  return MESHLET_ROWS.filter((row) => input.rows.includes(row));
}

function ratioTable(input: ReportInput): string[] {
  const lines = tableSection('meshlet ÷ the others',
    ['scenario', 'row', 'req/s ÷ direct', 'req/s ÷ reference', 'req/s ÷ haproxy', 'added p50 ÷ reference', 'added p50 ÷ haproxy', 'CPU/req ÷ reference', 'CPU/req ÷ haproxy'], 2,
    'Reference is bare-node for HTTP/1.1 and naive-h2 for h2c and gRPC. Added p50 is p50 minus direct p50.');
  for (const scenario of input.scenarios) {
    const cells = input.summary.get(scenario.id);
    const get = (row: RowName): CellSummary | undefined => cells?.get(row);
    const directP50 = get('direct')?.p50Ms ?? NaN;
    const added = (row: RowName): number | undefined => {
      const cell = get(row);
      return cell && cell.p50Ms - directP50;
    };
    for (const row of meshletRows(input)) {
      const meshlet = get(row);
      lines.push(`| ${scenario.id} | ${label(row, input)} | ${[
        ratio(meshlet?.requestsPerSecond, get('direct')?.requestsPerSecond),
        ratio(meshlet?.requestsPerSecond, get(scenario.reference)?.requestsPerSecond),
        ratio(meshlet?.requestsPerSecond, get('haproxy')?.requestsPerSecond),
        ratio(added(row), added(scenario.reference)),
        ratio(added(row), added('haproxy')),
        ratio(meshlet?.cpuUsPerRequest, get(scenario.reference)?.cpuUsPerRequest),
        ratio(meshlet?.cpuUsPerRequest, get('haproxy')?.cpuUsPerRequest),
      ].join(' | ')} |`);
    }
  }
  return [...lines, ''];
}

/** One meshlet row against another, same Node, same rounds: one line per scenario. */
function comparisonTable(input: ReportInput, now: MeshletRowName, then: MeshletRowName, short: string, note: string): string[] {
  const title = `${label(now, input)} ÷ ${label(then, input)}`;
  const lines = tableSection(title, ['scenario', `req/s ÷ ${short}`, `p50 ÷ ${short}`, `p99 ÷ ${short}`, `CPU/req ÷ ${short}`], 1,
    `${note} Medians over rounds; req/s below 1.00x, or p50, p99, CPU above it, is ${now} doing worse.`);
  for (const scenario of input.scenarios) {
    const cells = input.summary.get(scenario.id);
    const a = cells?.get(now);
    const b = cells?.get(then);
    lines.push(`| ${scenario.id} | ${[
      ratio(a?.requestsPerSecond, b?.requestsPerSecond),
      ratio(a?.p50Ms, b?.p50Ms),
      ratio(a?.p99Ms, b?.p99Ms),
      ratio(a?.cpuUsPerRequest, b?.cpuUsPerRequest),
    ].join(' | ')} |`);
  }
  return [...lines, ''];
}

/** This checkout's agent against the baseline commit's. */
function baselineTable(input: ReportInput): string[] {
  if (!input.baseline) return [];
  return comparisonTable(input, 'meshlet', 'meshlet-base', 'base', `${baselineLabel(input.baseline)} is \`${input.baseline.ref}\`, run as meshlet-base.`);
}

/** What the full resilience policy costs when nothing fails. */
function policyTable(input: ReportInput): string[] {
  if (!input.rows.includes('meshlet-policy') || !input.rows.includes('meshlet')) return [];
  return comparisonTable(input, 'meshlet-policy', 'meshlet', 'default', 'meshlet-policy runs the full policy of examples/agent.yaml (retries, budget, breaker, limits, outlier detection, fallback), meshlet the default one; nothing fails.');
}

/** The README's benchmark table: one line per scenario and meshlet runtime, RSS included. */
function readmeSummary(input: ReportInput): string[] {
  const versions: Readonly<Record<MeshletRowName, string>> = { meshlet: input.machine.node, 'meshlet-policy': input.machine.node, 'meshlet-base': input.machine.node, 'meshlet-node24': input.machine.node24 };
  const node = (row: MeshletRowName): string => (/^v\d/.test(versions[row]) ? `Node ${versions[row].slice(1)}` : row);
  const runtime = (row: MeshletRowName): string => (row === 'meshlet-base' ? `${node(row)}, ${label(row, input)}` : row === 'meshlet-policy' ? `${node(row)}, full policy` : node(row));
  const lines = tableSection('Summary for the README',
    ['scenario', 'Meshlet on', 'direct req/s', 'reference req/s', 'HAProxy req/s', 'Meshlet req/s', 'Meshlet p50 / p99 ms', 'Meshlet CPU µs/req', 'Meshlet RSS idle / loaded MiB'], 2);
  for (const scenario of input.scenarios) {
    const cells = input.summary.get(scenario.id);
    const rps = (row: RowName): string => num(cells?.get(row)?.requestsPerSecond ?? NaN, 0);
    for (const row of meshletRows(input)) {
      const cell = cells?.get(row);
      const p50 = cell?.p50Ms ?? NaN;
      const p99 = cell?.p99Ms ?? NaN;
      const rss = `${num((cell?.idleRssKiB ?? NaN) / MIB, 1)} / ${num((cell?.rssKiB ?? NaN) / MIB, 1)}`;
      lines.push(`| ${scenario.title} | ${runtime(row)} | ${rps('direct')} | ${rps(scenario.reference)} (${scenario.reference}) | ${rps('haproxy')} | ${rps(row)} | ${ms(p50)} / ${ms(p99)} | ${num(cell?.cpuUsPerRequest ?? NaN, 0)} | ${rss} |`);
    }
  }
  return [...lines, ''];
}

/** This repository's subjects run to paragraphs; the header names the commit, the hash finds the rest. */
const SUBJECT_CHARS = 100;

function baselineHeader(input: ReportInput): string[] {
  const b = input.baseline;
  if (!b) return [];
  const subject = b.subject.length > SUBJECT_CHARS ? `${b.subject.slice(0, SUBJECT_CHARS - 1)}…` : b.subject;
  const flags = b.v8Flags.length === 0 ? 'none (it predates them)' : `\`${b.v8Flags.join(' ')}\``;
  return [`- ${baselineLabel(b)} (row meshlet-base): \`--against ${b.ref}\` = ${b.commit} "${subject}", its own \`bin/meshlet.js agent\` and dist/ from a worktree of that commit, on Node ${input.machine.node} with that commit's V8 flags: ${flags}`];
}

/** The whole Markdown report: machine header, one table per scenario, ratios, target checks. */
export function renderReport(input: ReportInput): string {
  const m = input.machine;
  return [
    `# Meshlet benchmark, ${input.startedAt.toISOString()}`,
    '',
    `- CPU: ${m.cpuModel}, ${m.cores} cores; load generators, upstreams and harness pinned to CPU 0, the proxy under test to CPU 1`,
    `- Node ${m.node} (harness, upstreams, Node forwarders, meshlet); meshlet-node24: Node ${m.node24}; ${m.haproxy}; ${m.wrk}; ${m.h2load}; Linux ${m.kernel}`,
    `- meshlet rows run \`node FLAGS bin/meshlet.js agent\` with the agent's V8 flags for their Node: \`${agentV8FlagsFor(m.node).join(' ')}\` on ${m.node}, \`${agentV8FlagsFor(m.node24).join(' ')}\` on ${m.node24}`,
    `- Load average when started: ${num(m.loadAverage, 2)} (other work on the machine shows up as tail latency)`,
    `- ${input.rounds} round(s) of ${input.durationS} s per run after a ${input.warmupS} s warm-up; every row runs in every round, interleaved; figures are medians over rounds, errors are summed`,
    '- Upstreams answer 100 bytes (HTTP/1.1, h2c) or echo "hello" (gRPC unary, grpc-js); gRPC successes are checked against the calls the upstream answered',
    ...baselineHeader(input),
    ...input.unavailable.map((line) => `- ${line}`),
    '',
    ...input.scenarios.flatMap((scenario) => scenarioTable(scenario, input)),
    ...ratioTable(input),
    ...baselineTable(input),
    ...policyTable(input),
    ...readmeSummary(input),
    '## Targets',
    '',
    ...input.targets.map((check) => `- ${formatTargetCheck(check)}`),
    '',
  ].join('\n');
}
