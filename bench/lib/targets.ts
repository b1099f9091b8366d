import type { MeshletRowName, ScenarioId } from './scenarios.ts';
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

/**
 * The performance targets a meshlet row (the agent on one runtime) is held to, each against the
 * bare reference of its protocol; the memory targets hold on every runtime.
 */
export function evaluateTargets(summary: Summary, meshlet: MeshletRowName = 'meshlet'): TargetCheck[] {
  const cell = (scenario: ScenarioId, row: 'direct' | 'bare-node' | 'naive-h2' | MeshletRowName) => summary.get(scenario)?.get(row);
  const nan = NaN;
  const checks: TargetCheck[] = [];

  const meshletC50 = cell('h1-c50', meshlet)?.requestsPerSecond ?? nan;
  const bareC50 = cell('h1-c50', 'bare-node')?.requestsPerSecond ?? nan;
  checks.push(check(`${meshlet} h1 50-conn req/s >= 0.9x bare-node`, [meshletC50, bareC50], () => meshletC50 >= 0.9 * bareC50,
    () => `${meshlet} ${fmt(meshletC50, 0)} vs bare-node ${fmt(bareC50, 0)} (${fmt(meshletC50 / bareC50)}x)`));

  const directP50 = cell('h1-c1', 'direct')?.p50Ms ?? nan;
  const meshletAdded = (cell('h1-c1', meshlet)?.p50Ms ?? nan) - directP50;
  const bareAdded = (cell('h1-c1', 'bare-node')?.p50Ms ?? nan) - directP50;
  checks.push(check(`${meshlet} h1 1-conn added p50 <= 1.1x bare-node added p50`, [meshletAdded, bareAdded], () => meshletAdded <= 1.1 * bareAdded,
    () => `${meshlet} +${fmt(meshletAdded, 3)} ms vs bare-node +${fmt(bareAdded, 3)} ms`));

  for (const scenario of ['h2c-10x10', 'grpc-10x10'] as const) {
    const own = cell(scenario, meshlet);
    const naive = cell(scenario, 'naive-h2');
    const rps = own?.requestsPerSecond ?? nan;
    const naiveRps = naive?.requestsPerSecond ?? nan;
    checks.push(check(`${meshlet} ${scenario} req/s >= naive-h2`, [rps, naiveRps], () => rps >= naiveRps,
      () => `${meshlet} ${fmt(rps, 0)} vs naive-h2 ${fmt(naiveRps, 0)} (${fmt(rps / naiveRps)}x)`));
    const p50 = own?.p50Ms ?? nan;
    const p99 = own?.p99Ms ?? nan;
    checks.push(check(`${meshlet} ${scenario} p99 <= 2x its p50`, [p50, p99], () => p99 <= 2 * p50,
      () => `p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms (${fmt(p99 / p50)}x)`));
  }

  const own = [...summary.values()].map((rows) => rows.get(meshlet)).filter((c) => c !== undefined);
  const idle = own.map((c) => c.idleRssKiB).find(Number.isFinite) ?? nan;
  checks.push(check(`${meshlet} idle RSS < 80 MiB`, [idle], () => idle < 80 * MIB, () => `${fmt(idle / MIB, 1)} MiB`));
  const loaded = own.length === 0 ? nan : Math.max(...own.map((c) => c.rssKiB));
  checks.push(check(`${meshlet} RSS under load < 128 MiB`, [loaded], () => loaded < 128 * MIB, () => `${fmt(loaded / MIB, 1)} MiB, the most after any scenario`));
  return checks;
}

/** Issue 8: the full example policy, with nothing failing, costs at most a tenth of HTTP/1.1 and gRPC throughput. */
export function evaluatePolicyCost(summary: Summary): TargetCheck[] {
  return (['h1-c50', 'grpc-10x10'] as const).map((scenario) => {
    const full = summary.get(scenario)?.get('meshlet-policy')?.requestsPerSecond ?? NaN;
    const plain = summary.get(scenario)?.get('meshlet')?.requestsPerSecond ?? NaN;
    return check(`meshlet-policy ${scenario} req/s >= 0.9x meshlet (default policy)`, [full, plain], () => full >= 0.9 * plain,
      () => `full policy ${fmt(full, 0)} vs default ${fmt(plain, 0)} (${fmt(full / plain)}x)`);
  });
}

export function formatTargetCheck(check: TargetCheck): string {
  return `${check.status} ${check.target}: ${check.detail}`;
}
