// `npm run bench`: meshlet against no proxy, bare Node forwarders and HAProxy, side by side in
// one run, meshlet's gossip against Serf's, and the control plane with 50 real agents. See bench/README.md for what each row, scenario
// and suite is.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareBaseline, type Baseline } from './lib/baseline.ts';
import { LOAD_CPU } from './lib/cpus.ts';
import { encodeEchoRequestFrame } from './lib/grpc-frame.ts';
import { runLoad } from './lib/load.ts';
import { machineInfo } from './lib/machine-info.ts';
import { currentNode, node24, type NodeRuntime } from './lib/node24.ts';
import { measure, type MeasureContext, type Measurement } from './lib/measure.ts';
import { parseBenchOptions, USAGE, type BenchOptions } from './lib/options.ts';
import { BASELINES_DIR, REPO_ROOT } from './lib/paths.ts';
import { clockTicksPerSecond } from './lib/proc-stats.ts';
import { ProcessGroup } from './lib/processes.ts';
import { lastError } from './lib/readiness.ts';
import { writeResults } from './lib/results-files.ts';
import { MESHLET_ROWS, rowsFor, type Scenario } from './lib/scenarios.ts';
import { summarize } from './lib/summary.ts';
import { renderReport } from './lib/table.ts';
import { evaluatePolicyCost, evaluateTargets, formatTargetCheck } from './lib/targets.ts';
import { ensureTools } from './lib/tools.ts';
import { renderFaults, runFaults } from './faults/run-faults.ts';
import { FAULT_PROXIES } from './faults/proxies.ts';
import { gossipInfo, runGossipSuite } from './gossip/gossip-suite.ts';
import { runControlSuite } from './control/control-suite.ts';
import { removeTrafficChainNow } from './gossip/traffic.ts';
import { startUpstreams } from './lib/upstreams.ts';
import { baselineAgent, currentAgent } from './rows/meshlet.ts';
import { skipAll, type Row, type RowTarget } from './rows/row.ts';
import { startRows, unavailableLines, type MeshletAgents } from './rows/start-rows.ts';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** The rows of a scenario that still have a live target, rotated by round so no row always goes first. */
function runnable(scenario: Scenario, rows: readonly Row[], options: BenchOptions, round: number): Array<[Row, RowTarget]> {
  const names = rowsFor(scenario, options.rows);
  const shift = round % Math.max(1, names.length);
  const ordered = [...names.slice(shift), ...names.slice(0, shift)];
  const result: Array<[Row, RowTarget]> = [];
  for (const name of ordered) {
    const row = rows.find((r) => r.name === name);
    const target = row?.targets.get(scenario.protocol);
    if (row && target) result.push([row, target]);
  }
  return result;
}

/** A run that failed takes its row out of that protocol (or out of everything, if its process died). */
function retire(row: Row, target: RowTarget, scenario: Scenario, error: Error): void {
  const owner = target.process;
  if (owner && !owner.isRunning()) {
    const protocols = [...row.targets].filter(([, t]) => t.process === owner).map(([p]) => p);
    for (const protocol of protocols) row.targets.delete(protocol);
    skipAll(row, protocols, `exited during ${scenario.id}: ${lastError(owner.outputTail())}`);
  } else {
    row.targets.delete(scenario.protocol);
    row.skipped.set(scenario.protocol, `${scenario.id} failed: ${error.message}`);
  }
  log(`  ${row.name}: ${row.skipped.get(scenario.protocol)}`);
}

async function warmUp(ctx: MeasureContext, rows: Row[], options: BenchOptions): Promise<void> {
  if (options.warmupS === 0) return;
  log(`warm-up: ${options.warmupS} s per row and scenario`);
  for (const scenario of options.scenarios) {
    for (const [row, target] of runnable(scenario, rows, options, 0)) {
      try {
        await runLoad(ctx, scenario, target.port, options.warmupS);
      } catch (error) {
        retire(row, target, scenario, error as Error);
      }
    }
  }
}

async function runRounds(ctx: MeasureContext, rows: Row[], options: BenchOptions): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (let round = 1; round <= options.rounds; round += 1) {
    for (const scenario of options.scenarios) {
      for (const [row, target] of runnable(scenario, rows, options, round - 1)) {
        try {
          const m = await measure(ctx, round, row.name, scenario, target, options.durationS);
          measurements.push(m);
          log(`round ${round}/${options.rounds} ${scenario.id} ${row.name}: ${m.requestsPerSecond.toFixed(0)} req/s, p50 ${m.p50Ms.toFixed(3)} ms, p99 ${m.p99Ms.toFixed(3)} ms, ${m.errors} errors`);
        } catch (error) {
          retire(row, target, scenario, error as Error);
        }
      }
    }
  }
  return measurements;
}

const NOT_SELECTED = { unavailable: 'row not selected' } as const;

function describeRuntime(runtime: NodeRuntime): string {
  return 'version' in runtime ? runtime.version : runtime.unavailable;
}

async function main(options: BenchOptions, baseline: Baseline | undefined, group: ProcessGroup, tmpDir: string): Promise<void> {
  const startedAt = new Date();
  const throughput = options.suites.includes('throughput') ? await runThroughput(options, baseline, group, tmpDir, startedAt) : undefined;
  const faults = options.suites.includes('faults') ? await runFaults(group, tmpDir, FAULT_PROXIES, log) : undefined;
  const gossip = options.suites.includes('gossip') ? await runGossipSuite(group, tmpDir, options.gossip, gossipInfo(), log) : undefined;
  const control = options.suites.includes('control') ? await runControlSuite(group, tmpDir, options.control, log) : undefined;
  const report = [throughput?.report ?? `# meshlet bench, ${startedAt.toISOString()}\n`, faults ? renderFaults(faults) : '', gossip?.report ?? '', control?.report ?? ''].join('\n');
  const files = writeResults(startedAt, report, { startedAt, options, baseline, ...throughput?.raw, faults, gossip: gossip?.runs, control: control?.run });
  log('');
  log(report);
  for (const check of [...(throughput?.targets ?? []), ...(gossip?.goals ?? []), ...(control?.goals ?? [])]) log(formatTargetCheck(check));
  log(`\nwrote ${files.join(', ')}`);
}

async function runThroughput(options: BenchOptions, baseline: Baseline | undefined, group: ProcessGroup, tmpDir: string, startedAt: Date) {
  const node24Runtime = options.rows.includes('meshlet-node24') ? node24() : NOT_SELECTED;
  const agents: MeshletAgents = {
    meshlet: currentAgent(currentNode()),
    'meshlet-policy': currentAgent(currentNode()),
    'meshlet-base': baseline ? baselineAgent(baseline) : NOT_SELECTED,
    'meshlet-node24': currentAgent(node24Runtime),
  };
  const machine = machineInfo(describeRuntime(node24Runtime));
  const grpcFrameFile = join(tmpDir, 'echo-request.bin');
  writeFileSync(grpcFrameFile, encodeEchoRequestFrame());

  const upstreams = await startUpstreams(group);
  const rows = await startRows(options.rows, group, upstreams, tmpDir, agents);
  const ctx: MeasureContext = { group, tmpDir, grpcFrameFile, upstreams, clockTicksPerSecond: clockTicksPerSecond() };
  for (const line of unavailableLines(rows)) log(line);

  await warmUp(ctx, rows, options);
  const measurements = await runRounds(ctx, rows, options);

  const summary = summarize(measurements, (scenarioId, rowName) => {
    const protocol = options.scenarios.find((s) => s.id === scenarioId)?.protocol;
    return protocol && rows.find((r) => r.name === rowName)?.idleRssKiB.get(protocol);
  });
  const unavailable = unavailableLines(rows);
  // The targets are this checkout's; the baseline is measured to compare with, in its own section.
  const targets = [
    ...MESHLET_ROWS.filter((row) => (row === 'meshlet' || row === 'meshlet-node24') && options.rows.includes(row)).flatMap((row) => evaluateTargets(summary, row)),
    ...(options.rows.includes('meshlet-policy') ? evaluatePolicyCost(summary) : []),
  ];
  const report = renderReport({
    startedAt, machine, rounds: options.rounds, durationS: options.durationS, warmupS: options.warmupS,
    scenarios: options.scenarios, rows: options.rows, summary, unavailable, targets, baseline,
  });
  return { report, targets, raw: { machine, unavailable, measurements } };
}

/** Ends the bench over a mistake in what it was asked to run: the message, no stack trace. */
function exitWith(error: unknown): never {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exit(1);
}

function optionsOrExit(argv: readonly string[]): BenchOptions | 'help' {
  try {
    return parseBenchOptions(argv);
  } catch (error) {
    return exitWith(error);
  }
}

/** The baseline's worktree, built; any failure ends the bench here, before any load runs. */
async function baselineOrExit(ref: string): Promise<Baseline> {
  log(`baseline: checking out and building ${ref} in ${BASELINES_DIR}`);
  try {
    const baseline = await prepareBaseline(REPO_ROOT, BASELINES_DIR, ref);
    log(`baseline: ${ref} is ${baseline.commit}, built in ${baseline.dir}; its agent's V8 flags: ${baseline.v8Flags.join(' ') || 'none'}`);
    return baseline;
  } catch (error) {
    return exitWith(error);
  }
}

const parsed = optionsOrExit(process.argv.slice(2));
if (parsed === 'help') {
  log(USAGE);
} else {
  const throughputSuite = parsed.suites.includes('throughput');
  ensureTools([
    'taskset',
    ...(throughputSuite ? ['wrk', 'h2load'] : []),
    ...((throughputSuite && parsed.rows.includes('haproxy')) || parsed.suites.includes('faults') ? ['haproxy'] : []),
    ...(parsed.suites.includes('gossip') ? ['serf', 'stress-ng', 'iptables', 'iptables-restore'] : []),
  ]);
  // This harness shares CPU 0 with the load generators, leaving CPU 1 to the proxy under test.
  spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' });
  const baseline = parsed.baseline === undefined ? undefined : await baselineOrExit(parsed.baseline);
  const group = new ProcessGroup();
  const tmpDir = mkdtempSync(join(tmpdir(), 'meshlet-bench-'));
  const abort = (): void => {
    group.killAllNow();
    if (parsed.suites.includes('gossip')) removeTrafficChainNow();
    rmSync(tmpDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  try {
    await main(parsed, baseline, group, tmpDir);
  } finally {
    await group.stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}
