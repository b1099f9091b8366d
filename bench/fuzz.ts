// `npm run fuzz -- --cases 1000000`: the fuzz properties of test/integration/fuzz.test.ts run
// against one real agent for as many cases as asked (split evenly over four targets), with
// several lanes at once, bounded in time. Writes bench/results/fuzz-<timestamp>.md: cases run
// per target, property failures, agent crashes (must be 0), and the time taken.
// `npm run fuzz -- --target gossip --packets 1000000`: hostile datagrams and streams to a real
// agent's gossip port instead (bench/fuzz-gossip.ts), bench/results/fuzz-gossip-<timestamp>.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { http1RequestBytes, http1Response, http2ClientBytes, http2Response } from '../test/helpers/fuzz/arbitraries.ts';
import {
  ENTRIES, HEALTHY, isCleanOutcome, isHttp1Reply, isHttp2Reply, sendRaw, startFuzzRig, viaScriptedHttp1, viaScriptedHttp2, type FuzzRig, type Lane,
} from '../test/helpers/fuzz/rig.ts';
import { CLIENT_KINDS } from '../test/helpers/proxy-clients.ts';
import { runGossipFuzz } from './fuzz-gossip.ts';
import { RESULTS_DIR } from './lib/paths.ts';

const USAGE = [
  'usage: npm run fuzz -- [--cases N (1000000)] [--split W,W,W,W (1,1,1,1)] [--lanes N (8)] [--minutes M (15)] [--seed S]',
  '       npm run fuzz -- --target gossip [--packets N (1000000)] [--window N (32)] [--rate N/s (10000)] [--streams-every N (1000)] [--minutes M (15)] [--seed S]',
].join('\n');

const { values } = parseArgs({
  options: {
    target: { type: 'string' }, cases: { type: 'string' }, split: { type: 'string' }, lanes: { type: 'string' }, minutes: { type: 'string' }, seed: { type: 'string' },
    packets: { type: 'string' }, window: { type: 'string' }, rate: { type: 'string' }, 'streams-every': { type: 'string' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const totalCases = Number(values.cases ?? 1_000_000);
const laneCount = Number(values.lanes ?? 8);
const minutes = Number(values.minutes ?? 15);
const seed = Number(values.seed ?? Date.now() % 2 ** 31);
/** How the cases are shared out over the four targets, by weight (the fast client-side targets can take more). */
const split = (values.split ?? '1,1,1,1').split(',').map(Number);
if (![totalCases, laneCount, minutes, seed, ...split].every(Number.isFinite) || totalCases < 1 || laneCount < 1 || minutes <= 0 || split.length !== 4 || split.some((w) => w < 0) || !['http', 'gossip'].includes(values.target ?? 'http')) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

if (values.target === 'gossip') {
  const gossip = { packets: Number(values.packets ?? 1_000_000), window: Number(values.window ?? 32), rate: Number(values.rate ?? 10_000), streamsEvery: Number(values['streams-every'] ?? 1_000), minutes, seed };
  if (![gossip.packets, gossip.window, gossip.rate, gossip.streamsEvery].every((n) => Number.isInteger(n) && n >= 1)) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const { ok } = await runGossipFuzz(gossip);
  process.exit(ok ? 0 : 1);
}

/** How often (in cases, per lane) an ordinary request checks that the agent still serves. */
const PROBE_EVERY = 500;

interface TargetResult {
  readonly name: string;
  cases: number;
  failures: string[];
  /** Why the agent exited, one entry per exit (its stderr's first lines); the rig restarts it and the target goes on. */
  exits: string[];
  seconds: number;
}

/** The property for one lane, with `afterEach` run after every case. */
type CaseRunner = (lane: Lane, afterEach: () => Promise<void>) => fc.IAsyncProperty<[unknown, ...unknown[]]>;

/** `rig()` is the current rig: a new one after the agent exited. */
function targets(rig: () => FuzzRig): Array<[string, CaseRunner]> {
  return [
    ['HTTP/1.1 request bytes from clients (upstream port, proxy port, CONNECT tunnel)', (_lane, afterEach) =>
      fc.asyncProperty(fc.constantFrom(...ENTRIES), http1RequestBytes(HEALTHY), async (entry, bytes) => isHttp1Reply(bytes, await sendRaw(rig(), entry, bytes))).afterEach(afterEach)],
    ['HTTP/2 frames from clients (upstream port, proxy port, CONNECT tunnel)', (_lane, afterEach) =>
      fc.asyncProperty(fc.constantFrom(...ENTRIES), http2ClientBytes(HEALTHY), async (entry, bytes) => isHttp2Reply(await sendRaw(rig(), entry, bytes))).afterEach(afterEach)],
    ['HTTP/1.1 upstream responses to HTTP/1.1, h2c and gRPC clients', (lane, afterEach) =>
      fc.asyncProperty(fc.constantFrom(...CLIENT_KINDS), http1Response, async (client, script) => isCleanOutcome(await viaScriptedHttp1(lane, client, script))).afterEach(afterEach)],
    ['HTTP/2 upstream frames (h2c and gRPC upstreams) to HTTP/1.1, h2c and gRPC clients', (lane, afterEach) =>
      fc.asyncProperty(fc.constantFrom(...CLIENT_KINDS), fc.boolean(), http2Response, async (client, grpc, script) => isCleanOutcome(await viaScriptedHttp2(lane, client, grpc, script))).afterEach(afterEach)],
  ];
}

let rig = await startFuzzRig(laneCount);

/** Runs the target until `cases` ran or `deadline` passed; after an agent exit, on a new rig. */
async function runTarget(name: string, property: CaseRunner, cases: number, deadline: number, index: number): Promise<TargetResult> {
  const result: TargetResult = { name, cases: 0, failures: [], exits: [], seconds: 0 };
  const started = performance.now();
  for (let round = 0; result.cases < cases && performance.now() < deadline; round++) {
    await runRound(result, property, cases - result.cases, deadline, index, round);
    if (rig.alive()) break;
    result.exits.push(rig.agent.stderr().split('\n').filter(Boolean).slice(0, 8).join(' / ').slice(0, 600));
    await rig.stop().catch(() => undefined);
    rig = await startFuzzRig(laneCount);
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

async function runRound(result: TargetResult, property: CaseRunner, cases: number, deadline: number, index: number, round: number): Promise<void> {
  const perLane = Math.ceil(cases / rig.lanes.length);
  await Promise.all(rig.lanes.map(async (lane, laneIndex) => {
    let sinceProbe = 0;
    const counted = property(lane, async () => {
      result.cases += 1;
      if (!rig.alive()) throw new Error('the agent process exited');
      if (++sinceProbe >= PROBE_EVERY) {
        sinceProbe = 0;
        const notServing = await rig.notServing();
        if (notServing !== undefined) throw new Error(`an ordinary request failed after fuzzing: ${notServing}`);
      }
    });
    try {
      await fc.assert(counted, {
        numRuns: perLane,
        seed: seed + index * 1000 + round * 100 + laneIndex,
        endOnFailure: true,
        interruptAfterTimeLimit: Math.max(1, deadline - performance.now()),
        markInterruptAsFailure: false,
        // Without it fast-check leaves the case's error out of its message.
        includeErrorInReport: true,
      });
    } catch (err) {
      if (!rig.alive()) return;
      // fast-check's message ends with the error the case threw: that comes first here.
      const lines = (err as Error).message.split('\n');
      const got = lines.find((line) => line.startsWith('Got error:'));
      result.failures.push([got, ...lines.slice(0, 3)].filter(Boolean).join(' | ').slice(0, 900));
    }
  }));
}

function report(results: readonly TargetResult[], startedAt: Date, seconds: number): string {
  const total = results.reduce((sum, r) => sum + r.cases, 0);
  const exits = results.reduce((sum, r) => sum + r.exits.length, 0);
  const lines = [
    `# Fuzz run ${startedAt.toISOString()}`,
    '',
    `\`npm run fuzz -- --cases ${totalCases} --split ${split.join(',')} --lanes ${laneCount} --minutes ${minutes} --seed ${seed}\`; Node ${process.version}.`,
    '',
    '| target | cases | cases/s | property failures | agent exits |',
    '|---|---:|---:|---:|---:|',
    ...results.map((r) => `| ${r.name} | ${r.cases} | ${Math.round(r.cases / r.seconds)} | ${r.failures.length} | ${r.exits.length} |`),
    `| **total** | **${total}** | ${Math.round(total / seconds)} | ${results.reduce((sum, r) => sum + r.failures.length, 0)} | **${exits}** |`,
    '',
    `Time: ${seconds.toFixed(0)} s. ${total < totalCases ? `Stopped by the ${minutes}-minute limit before ${totalCases} cases.` : ''}`,
    '',
  ];
  for (const r of results) for (const failure of r.failures) lines.push(`- ${r.name}: ${failure}`);
  for (const r of results) for (const exit of r.exits) lines.push(`- ${r.name}: **the agent exited** (restarted, the target went on): ${exit}`);
  return `${lines.join('\n')}\n`;
}

const startedAt = new Date();
const started = performance.now();
const deadline = started + minutes * 60_000;
const results: TargetResult[] = [];
try {
  const all = targets(() => rig);
  for (const [index, [name, property]] of all.entries()) {
    // Each target gets an even share of what time is left, so all four run.
    const share = (deadline - performance.now()) / (all.length - index);
    const cases = Math.ceil((totalCases * split[index]!) / split.reduce((sum, w) => sum + w, 0));
    const result = await runTarget(name, property, cases, performance.now() + share, index);
    results.push(result);
    process.stdout.write(`${name}: ${result.cases} cases in ${result.seconds.toFixed(0)} s, ${result.failures.length} failures, agent exits: ${result.exits.length}\n`);
  }
} finally {
  await rig.stop();
}
const text = report(results, startedAt, (performance.now() - started) / 1000);
mkdirSync(RESULTS_DIR, { recursive: true });
const file = join(RESULTS_DIR, `fuzz-${startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-')}.md`);
writeFileSync(file, text);
process.stdout.write(`${text}\nwritten: ${file}\n`);
process.exitCode = results.some((r) => r.exits.length > 0 || r.failures.length > 0) ? 1 : 0;
