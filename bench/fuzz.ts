// `npm run fuzz -- --cases 1000000`: the fuzz properties of test/integration/fuzz.test.ts run
// against one real agent for as many cases as asked (split evenly over four targets), with
// several lanes at once, bounded in time. Writes bench/results/fuzz-<timestamp>.md: cases run
// per target, property failures, agent crashes (must be 0), and the time taken.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { http1RequestBytes, http1Response, http2ClientBytes, http2Response } from '../test/helpers/fuzz/arbitraries.ts';
import {
  ENTRIES, HEALTHY, isCleanOutcome, isHttp1Reply, isHttp2Reply, sendRaw, startFuzzRig, viaScriptedHttp1, viaScriptedHttp2, type FuzzRig, type Lane,
} from '../test/helpers/fuzz/rig.ts';
import { CLIENT_KINDS } from '../test/helpers/proxy-clients.ts';
import { RESULTS_DIR } from './lib/paths.ts';

const USAGE = 'usage: npm run fuzz -- [--cases N (1000000)] [--lanes N (8)] [--minutes M (15)] [--seed S]';

const { values } = parseArgs({
  options: { cases: { type: 'string' }, lanes: { type: 'string' }, minutes: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean' } },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const totalCases = Number(values.cases ?? 1_000_000);
const laneCount = Number(values.lanes ?? 8);
const minutes = Number(values.minutes ?? 15);
const seed = Number(values.seed ?? Date.now() % 2 ** 31);
if (![totalCases, laneCount, minutes, seed].every(Number.isFinite) || totalCases < 1 || laneCount < 1 || minutes <= 0) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

/** How often (in cases, per lane) an ordinary request checks that the agent still serves. */
const PROBE_EVERY = 500;

interface TargetResult {
  readonly name: string;
  cases: number;
  failures: string[];
  crashed: boolean;
  seconds: number;
}

/** The property for one lane, with `afterEach` run after every case. */
type CaseRunner = (lane: Lane, afterEach: () => Promise<void>) => fc.IAsyncProperty<[unknown, ...unknown[]]>;

function targets(rig: FuzzRig): Array<[string, CaseRunner]> {
  return [
    ['HTTP/1.1 request bytes from clients (upstream port, proxy port, CONNECT tunnel)', (_lane, afterEach) =>
      fc.asyncProperty(fc.constantFrom(...ENTRIES), http1RequestBytes(HEALTHY), async (entry, bytes) => isHttp1Reply(bytes, await sendRaw(rig, entry, bytes))).afterEach(afterEach)],
    ['HTTP/2 frames from clients (upstream port, proxy port, CONNECT tunnel)', (_lane, afterEach) =>
      fc.asyncProperty(fc.constantFrom(...ENTRIES), http2ClientBytes(HEALTHY), async (entry, bytes) => isHttp2Reply(await sendRaw(rig, entry, bytes))).afterEach(afterEach)],
    ['HTTP/1.1 upstream responses to HTTP/1.1, h2c and gRPC clients', (lane, afterEach) =>
      fc.asyncProperty(fc.constantFrom(...CLIENT_KINDS), http1Response, async (client, script) => isCleanOutcome(await viaScriptedHttp1(lane, client, script))).afterEach(afterEach)],
    ['HTTP/2 upstream frames (h2c and gRPC upstreams) to HTTP/1.1, h2c and gRPC clients', (lane, afterEach) =>
      fc.asyncProperty(fc.constantFrom(...CLIENT_KINDS), fc.boolean(), http2Response, async (client, grpc, script) => isCleanOutcome(await viaScriptedHttp2(lane, client, grpc, script))).afterEach(afterEach)],
  ];
}

async function runTarget(rig: FuzzRig, name: string, property: CaseRunner, cases: number, deadline: number, index: number): Promise<TargetResult> {
  const result: TargetResult = { name, cases: 0, failures: [], crashed: false, seconds: 0 };
  const started = performance.now();
  const perLane = Math.ceil(cases / rig.lanes.length);
  await Promise.all(rig.lanes.map(async (lane, laneIndex) => {
    let sinceProbe = 0;
    const counted = property(lane, async () => {
      result.cases += 1;
      if (!rig.alive()) throw new Error('the agent process exited');
      if (++sinceProbe >= PROBE_EVERY) {
        sinceProbe = 0;
        if (!(await rig.serving())) throw new Error('an ordinary request failed after fuzzing');
      }
    });
    try {
      await fc.assert(counted, {
        numRuns: perLane,
        seed: seed + index * 1000 + laneIndex,
        endOnFailure: true,
        interruptAfterTimeLimit: Math.max(1, deadline - performance.now()),
        markInterruptAsFailure: false,
      });
    } catch (err) {
      result.failures.push((err as Error).message.split('\n').slice(0, 4).join(' | ').slice(0, 600));
    }
  }));
  result.crashed = !rig.alive();
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

function report(results: readonly TargetResult[], startedAt: Date, seconds: number): string {
  const total = results.reduce((sum, r) => sum + r.cases, 0);
  const crashes = results.filter((r) => r.crashed).length;
  const lines = [
    `# Fuzz run ${startedAt.toISOString()}`,
    '',
    `\`npm run fuzz -- --cases ${totalCases} --lanes ${laneCount} --minutes ${minutes} --seed ${seed}\`; Node ${process.version}.`,
    '',
    '| target | cases | cases/s | property failures | agent crashes |',
    '|---|---:|---:|---:|---:|',
    ...results.map((r) => `| ${r.name} | ${r.cases} | ${Math.round(r.cases / r.seconds)} | ${r.failures.length} | ${r.crashed ? 1 : 0} |`),
    `| **total** | **${total}** | ${Math.round(total / seconds)} | ${results.reduce((sum, r) => sum + r.failures.length, 0)} | **${crashes}** |`,
    '',
    `Time: ${seconds.toFixed(0)} s. ${total < totalCases ? `Stopped by the ${minutes}-minute limit before ${totalCases} cases.` : ''}`,
    '',
  ];
  for (const r of results) for (const failure of r.failures) lines.push(`- ${r.name}: ${failure}`);
  return `${lines.join('\n')}\n`;
}

const startedAt = new Date();
const started = performance.now();
const deadline = started + minutes * 60_000;
const rig = await startFuzzRig(laneCount);
const results: TargetResult[] = [];
try {
  const all = targets(rig);
  for (const [index, [name, property]] of all.entries()) {
    // Each target gets an even share of what time is left, so all four run.
    const share = (deadline - performance.now()) / (all.length - index);
    const result = await runTarget(rig, name, property, Math.ceil(totalCases / all.length), performance.now() + share, index);
    results.push(result);
    process.stdout.write(`${name}: ${result.cases} cases in ${result.seconds.toFixed(0)} s, ${result.failures.length} failures, crashed: ${result.crashed}\n`);
    if (result.crashed) break;
  }
} finally {
  await rig.stop();
}
const text = report(results, startedAt, (performance.now() - started) / 1000);
mkdirSync(RESULTS_DIR, { recursive: true });
const file = join(RESULTS_DIR, `fuzz-${startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-')}.md`);
writeFileSync(file, text);
process.stdout.write(`${text}\nwritten: ${file}\n`);
process.exitCode = results.some((r) => r.crashed || r.failures.length > 0) ? 1 : 0;
