import type { Summary } from './summary.ts';

export type TargetStatus = 'PASS' | 'MISS' | 'SKIP';

export interface TargetCheck {
  readonly status: TargetStatus;
  readonly target: string;
  readonly detail: string;
}

const MIB = 1024;
const fmt = (n: number, digits = 2): string => n.toFixed(digits);

function check(target: string, values: readonly number[], passes: () => boolean, detail: () => string): TargetCheck {
  if (values.some((v) => !Number.isFinite(v))) return { status: 'SKIP', target, detail: 'not measured' };
  return { status: passes() ? 'PASS' : 'MISS', target, detail: detail() };
}

/** The performance targets meshlet is held to, each against the bare reference of its protocol. */
export function evaluateTargets(summary: Summary): TargetCheck[] {
  const cell = (scenario: 'h1-c50' | 'h1-c1' | 'h2c-10x10' | 'grpc-10x10', row: 'direct' | 'bare-node' | 'naive-h2' | 'meshlet') =>
    summary.get(scenario)?.get(row);
  const nan = NaN;
  const checks: TargetCheck[] = [];

  const meshletC50 = cell('h1-c50', 'meshlet')?.requestsPerSecond ?? nan;
  const bareC50 = cell('h1-c50', 'bare-node')?.requestsPerSecond ?? nan;
  checks.push(check('h1 50-conn req/s >= 0.9x bare-node', [meshletC50, bareC50], () => meshletC50 >= 0.9 * bareC50,
    () => `meshlet ${fmt(meshletC50, 0)} vs bare-node ${fmt(bareC50, 0)} (${fmt(meshletC50 / bareC50)}x)`));

  const directP50 = cell('h1-c1', 'direct')?.p50Ms ?? nan;
  const meshletAdded = (cell('h1-c1', 'meshlet')?.p50Ms ?? nan) - directP50;
  const bareAdded = (cell('h1-c1', 'bare-node')?.p50Ms ?? nan) - directP50;
  checks.push(check('h1 1-conn added p50 <= 1.1x bare-node added p50', [meshletAdded, bareAdded], () => meshletAdded <= 1.1 * bareAdded,
    () => `meshlet +${fmt(meshletAdded, 3)} ms vs bare-node +${fmt(bareAdded, 3)} ms`));

  for (const scenario of ['h2c-10x10', 'grpc-10x10'] as const) {
    const meshlet = cell(scenario, 'meshlet');
    const naive = cell(scenario, 'naive-h2');
    const rps = meshlet?.requestsPerSecond ?? nan;
    const naiveRps = naive?.requestsPerSecond ?? nan;
    checks.push(check(`${scenario} req/s >= naive-h2`, [rps, naiveRps], () => rps >= naiveRps,
      () => `meshlet ${fmt(rps, 0)} vs naive-h2 ${fmt(naiveRps, 0)} (${fmt(rps / naiveRps)}x)`));
    const p50 = meshlet?.p50Ms ?? nan;
    const p99 = meshlet?.p99Ms ?? nan;
    checks.push(check(`${scenario} meshlet p99 <= 2x its p50`, [p50, p99], () => p99 <= 2 * p50,
      () => `p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms (${fmt(p99 / p50)}x)`));
  }

  const idle = [...summary.values()].map((rows) => rows.get('meshlet')?.idleRssKiB ?? nan).find(Number.isFinite) ?? nan;
  checks.push(check('meshlet idle RSS < 80 MiB', [idle], () => idle < 80 * MIB, () => `${fmt(idle / MIB, 1)} MiB`));
  return checks;
}

export function formatTargetCheck(check: TargetCheck): string {
  return `${check.status} ${check.target}: ${check.detail}`;
}
