// The fault suite of `npm run bench`: each scenario through each proxy, with fresh instances
// and a fresh proxy per run (a breaker or an ejection must not carry over), the paced client
// at a fixed rate, and the instances' counters polled on their control ports.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessGroup } from '../lib/processes.ts';
import { analyse, type FaultResult, type Poll } from './analyse.ts';
import { FAULT_SCENARIOS, type FaultScenario } from './fault-scenarios.ts';
import { startInstances } from './instances.ts';
import { pacedRun } from './paced-client.ts';
import { FAULT_PROXIES, startProxy, type FaultProxy } from './proxies.ts';

export const FAULT_RATE = 200;
export const HEALTHY_MS = 5000;
export const FAULT_MS = 10_000;
const POLL_MS = 250;

export interface FaultRun {
  readonly scenario: FaultScenario;
  readonly proxy: FaultProxy;
  readonly result: FaultResult | undefined;
  readonly error?: string;
}

async function runOne(group: ProcessGroup, tmpDir: string, scenario: FaultScenario, proxy: FaultProxy): Promise<FaultResult> {
  const instances = await startInstances(group);
  const running = await startProxy(proxy, group, tmpDir, instances.map((i) => i.port), { haproxyBalance: scenario.haproxyBalance });
  try {
    const polls: Poll[] = [];
    let polling = true;
    const started = performance.now();
    const poller = (async () => {
      while (polling) {
        const at = performance.now() - started;
        polls.push({ at, stats: await Promise.all(instances.map((i) => i.stats())) });
        await sleep(POLL_MS);
      }
    })();
    let injected: Promise<void> | undefined;
    const dead = scenario.dead === undefined ? undefined : instances[scenario.dead]!.port;
    let attemptsBefore: number | undefined;
    const samples = await pacedRun(running.port, FAULT_RATE, HEALTHY_MS + FAULT_MS, (elapsed) => {
      if (injected === undefined && elapsed >= HEALTHY_MS) {
        // Read the proxy's count for the instance about to die (a few ms) right before it dies.
        injected = (async () => {
          if (dead !== undefined) attemptsBefore = await running.attemptsAt(dead);
          await scenario.inject(instances);
        })();
      }
    });
    await injected;
    polling = false;
    await poller;
    polls.push({ at: performance.now() - started, stats: await Promise.all(instances.map((i) => i.stats())) });
    const deadAttempts = dead === undefined ? undefined : (await running.attemptsAt(dead)) - attemptsBefore!;
    return analyse(samples, polls, HEALTHY_MS, HEALTHY_MS + FAULT_MS, scenario.bad, deadAttempts);
  } finally {
    running.process.terminate();
    for (const instance of instances) if (instance.process.isRunning()) instance.process.terminate();
    await Promise.all([running.process.exited, ...instances.map((i) => i.process.exited)]);
  }
}

export async function runFaults(group: ProcessGroup, tmpDir: string, proxies: readonly FaultProxy[] = FAULT_PROXIES, log: (line: string) => void): Promise<FaultRun[]> {
  const runs: FaultRun[] = [];
  for (const scenario of FAULT_SCENARIOS) {
    for (const proxy of proxies) {
      try {
        const result = await runOne(group, tmpDir, scenario, proxy);
        runs.push({ scenario, proxy, result });
        log(`faults ${scenario.id} ${proxy}: ${result.successPercent.toFixed(2)} % ok, p99 ${result.p99Ms.toFixed(1)} ms, bad share ${result.badSharePercent?.toFixed(1) ?? '-'} %, attempts at the dead ${result.deadAttempts ?? '-'}`);
      } catch (error) {
        runs.push({ scenario, proxy, result: undefined, error: (error as Error).message });
        log(`faults ${scenario.id} ${proxy}: failed: ${(error as Error).message}`);
      }
    }
  }
  return runs;
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(1) : '-');

/** The fault section of the report: one table, a row per scenario and proxy. */
export function renderFaults(runs: readonly FaultRun[]): string {
  const lines = [
    `## Faults`,
    '',
    `Three instances (HTTP/1.1, 2 ms service time), an open-loop client at ${FAULT_RATE} req/s: ${HEALTHY_MS / 1000} s healthy, then ${FAULT_MS / 1000} s of the fault. ` +
      'Latencies over the fault phase; "healthy p99" from the phase before it. Bad share: the bad instance\'s part of what the instances received in the last 5 s. ' +
      'Time to stop: from the fault until the bad instance\'s share stayed under 5 % per 500 ms (never: it did not). Upstream ÷ client: requests the instances received per request sent. ' +
      'Last 5 s: p99 and the TCP connections the instances accepted over the fault\'s last 5 s, once breakers and ejections had their time (the first seconds of a fault are their detection). ' +
      'Attempts at the dead: request attempts the proxy still sent the killed instance after its death, by the proxy\'s own counters (meshlet_requests_total; HAProxy\'s stot), each a failed connect it had to send elsewhere.',
    '',
    '| scenario | proxy | ok % | fallbacks | p50 ms | p99 ms | max ms | healthy p99 ms | last 5 s p99 ms | bad share % | time to stop | upstream ÷ client | last 5 s accepts | attempts at the dead |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const run of runs) {
    const r = run.result;
    if (!r) {
      lines.push(`| ${run.scenario.id} | ${run.proxy} | failed: ${run.error ?? '?'} |||||||||||||`);
      continue;
    }
    const stop = r.timeToStopMs === undefined ? '-' : r.timeToStopMs === null ? 'never' : `${(r.timeToStopMs / 1000).toFixed(1)} s`;
    lines.push(
      `| ${run.scenario.id} | ${run.proxy} | ${r.successPercent.toFixed(2)} | ${r.fallbacks} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.maxMs)} | ${ms(r.healthyP99Ms)} | ${ms(r.tailP99Ms)} | ${r.badSharePercent?.toFixed(1) ?? '-'} | ${stop} | ${r.amplification.toFixed(2)} | ${r.tailAccepts} | ${r.deadAttempts ?? '-'} |`,
    );
  }
  lines.push('', ...FAULT_SCENARIOS.map((s) => `- ${s.id}: ${s.title}`), '');
  return lines.join('\n');
}
