// The table `meshlet demo` prints at the end: what each upstream's calls came to and how the
// balancer spread them over the instances.

export interface UpstreamRow {
  readonly name: string;
  /** What the calls went through, e.g. "weighted_round_robin" or "proxy, Host: catalog". */
  readonly via: string;
  readonly calls: number;
  readonly failures: number;
  readonly latenciesMs: readonly number[];
}

export interface InstanceRow {
  readonly id: string;
  readonly upstream: string;
  readonly weight: number;
  readonly received: number;
}

export interface DemoReport {
  readonly upstreams: readonly UpstreamRow[];
  readonly instances: readonly InstanceRow[];
  /** The agent's admin "host:port". */
  readonly admin: string;
  readonly failures: readonly string[];
}

/** The p-th percentile (0–100) by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function formatDemoReport(report: DemoReport): string {
  const calls = table(
    ['upstream', 'via', 'calls', 'failed', 'p50', 'p99'],
    report.upstreams.map((u) => [
      u.name, u.via, String(u.calls), String(u.failures),
      millis(percentile(u.latenciesMs, 50)), millis(percentile(u.latenciesMs, 99)),
    ]),
    [false, false, true, true, true, true],
  );
  const instances = table(
    ['instance', 'upstream', 'weight', 'received', ''],
    instanceRows(report.instances),
    [false, false, true, true, false],
  );
  const lines = [
    '',
    ...calls,
    '',
    ...instances,
    '',
    `  Admin API was at http://${report.admin}  (/metrics /healthz /readyz /api/v1/upstreams /api/v1/config)`,
  ];
  if (report.failures.length > 0) {
    lines.push('', `  ${report.failures.length} kind(s) of call failed:`, ...report.failures.map((f) => `    - ${f}`));
  } else {
    lines.push('  Every call succeeded.');
  }
  return `${lines.join('\n')}\n`;
}

function instanceRows(instances: readonly InstanceRow[]): string[][] {
  const totals = new Map<string, { received: number; weight: number }>();
  for (const i of instances) {
    const t = totals.get(i.upstream) ?? { received: 0, weight: 0 };
    totals.set(i.upstream, { received: t.received + i.received, weight: t.weight + i.weight });
  }
  const most = Math.max(1, ...instances.map((i) => i.received));
  return instances.map((i) => {
    const total = totals.get(i.upstream)!;
    return [
      i.id, i.upstream,
      `${i.weight} (${share(i.weight, total.weight)})`,
      `${i.received} (${share(i.received, total.received)})`,
      '█'.repeat(Math.round((i.received / most) * 24)),
    ];
  });
}

function share(part: number, whole: number): string {
  return whole === 0 ? '-' : `${Math.round((part / whole) * 100)}%`;
}

function millis(ms: number): string {
  return Number.isNaN(ms) ? '-' : `${ms.toFixed(1)} ms`;
}

function table(header: readonly string[], rows: readonly string[][], alignRight: readonly boolean[]): string[] {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col]!.length)));
  const render = (cells: readonly string[]): string =>
    `  ${cells.map((c, col) => (alignRight[col] ? c.padStart(widths[col]!) : c.padEnd(widths[col]!))).join('  ')}`.trimEnd();
  return [render(header), ...rows.map(render)];
}
