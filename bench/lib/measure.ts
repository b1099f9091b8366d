import { servedCount } from './echo-client.ts';
import { runLoad, type LoadContext } from './load.ts';
import { readCpuTicks, readRssKiB } from './proc-stats.ts';
import type { RowName, Scenario, ScenarioId } from './scenarios.ts';
import type { RowTarget, UpstreamPorts } from '../rows/row.ts';

/** One row under one scenario in one round: what goes into the raw JSON. */
export interface Measurement {
  readonly round: number;
  readonly scenario: ScenarioId;
  readonly row: RowName;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly errors: number;
  /** Proxy CPU (user + system) per successful request; null for direct. */
  readonly cpuUsPerRequest: number | null;
  /** Proxy RSS right after the load; null for direct. */
  readonly rssKiB: number | null;
}

export interface MeasureContext extends LoadContext {
  readonly upstreams: UpstreamPorts;
  readonly clockTicksPerSecond: number;
}

/**
 * Runs the scenario's load against the target and reads the proxy's CPU time around it. For
 * gRPC, h2load counts any HTTP 200 as success (it never reads grpc-status), so responses beyond
 * the Echo calls the upstream answered are counted as errors: a proxy that answers
 * UNAVAILABLE by itself gets no credit.
 */
export async function measure(ctx: MeasureContext, round: number, rowName: RowName, scenario: Scenario, target: RowTarget, durationS: number): Promise<Measurement> {
  const pid = target.process?.pid;
  const grpc = scenario.protocol === 'grpc';
  const servedBefore = grpc ? await servedCount(ctx.upstreams.grpc) : 0;
  const ticksBefore = pid === undefined ? 0 : readCpuTicks(pid);
  const load = await runLoad(ctx, scenario, target.port, durationS);
  const ticksAfter = pid === undefined ? 0 : readCpuTicks(pid);
  const rssKiB = pid === undefined ? null : readRssKiB(pid);
  const served = grpc ? (await servedCount(ctx.upstreams.grpc)) - servedBefore : load.ok;
  const ok = Math.min(load.ok, served);
  const errors = load.errors + (load.ok - ok);
  return {
    round,
    scenario: scenario.id,
    row: rowName,
    requestsPerSecond: ok / load.durationS,
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    ok,
    errors,
    cpuUsPerRequest: pid === undefined || ok === 0 ? null : ((ticksAfter - ticksBefore) * 1e6) / ctx.clockTicksPerSecond / ok,
    rssKiB,
  };
}
