import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LOAD_CPU } from './cpus.ts';
import { parseH2loadLog, parseH2loadSummary } from './h2load-output.ts';
import { ECHO_METHOD_PATH } from './echo-proto.ts';
import type { ProcessGroup } from './processes.ts';
import type { Scenario } from './scenarios.ts';
import { parseWrkOutput } from './wrk-output.ts';

/** One load-generator run against one port: successful responses, failures and latency. */
export interface LoadResult {
  /** 2xx responses (for gRPC: HTTP 200; the caller checks grpc-status against the upstream). */
  readonly ok: number;
  readonly errors: number;
  readonly durationS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface LoadContext {
  readonly group: ProcessGroup;
  readonly tmpDir: string;
  /** A length-prefixed EchoRequest, posted as the body of every gRPC request. */
  readonly grpcFrameFile: string;
}

/** A run that hangs is killed this long after its nominal end. */
const OVERRUN_MS = 30_000;

async function runTool(ctx: LoadContext, command: string, args: readonly string[], durationS: number): Promise<string> {
  const result = await ctx.group.run(LOAD_CPU, command, args, durationS * 1000 + OVERRUN_MS);
  if (result.timedOut) throw new Error(`${command} did not finish within ${durationS}s + ${OVERRUN_MS / 1000}s`);
  if (result.code !== 0) throw new Error(`${command} exited with ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

async function runWrk(ctx: LoadContext, scenario: Scenario, port: number, durationS: number): Promise<LoadResult> {
  const args = ['-t1', `-c${scenario.connections}`, `-d${durationS}s`, '--timeout', '5s', '--latency', `http://127.0.0.1:${port}/`];
  const wrk = parseWrkOutput(await runTool(ctx, 'wrk', args, durationS));
  return {
    ok: wrk.requests - wrk.non2xx3xx,
    errors: wrk.non2xx3xx + wrk.socketErrors,
    durationS: wrk.durationS,
    p50Ms: wrk.latencyMs.p50,
    p99Ms: wrk.latencyMs.p99,
  };
}

async function runH2load(ctx: LoadContext, scenario: Scenario, port: number, durationS: number): Promise<LoadResult> {
  const logFile = join(ctx.tmpDir, 'h2load.log');
  const grpc = scenario.protocol === 'grpc'
    ? ['-d', ctx.grpcFrameFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers']
    : [];
  const path = scenario.protocol === 'grpc' ? ECHO_METHOD_PATH : '/';
  const args = ['-c', String(scenario.connections), '-m', String(scenario.streams), '-D', String(durationS),
    '--log-file', logFile, ...grpc, `http://127.0.0.1:${port}${path}`];
  try {
    const summary = parseH2loadSummary(await runTool(ctx, 'h2load', args, durationS));
    const latency = parseH2loadLog(readFileSync(logFile, 'utf8'));
    const completedNon2xx = Math.max(0, summary.succeeded - latency.responses2xx);
    return {
      ok: latency.responses2xx,
      errors: summary.failed + summary.errored + summary.timeout + completedNon2xx,
      durationS: summary.durationS,
      p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms,
    };
  } finally {
    rmSync(logFile, { force: true });
  }
}

export function runLoad(ctx: LoadContext, scenario: Scenario, port: number, durationS: number): Promise<LoadResult> {
  return scenario.tool === 'wrk' ? runWrk(ctx, scenario, port, durationS) : runH2load(ctx, scenario, port, durationS);
}
