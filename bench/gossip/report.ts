// The gossip section of the bench report: one line per cluster size and system, then the
// issue's goals for Meshlet against Serf at each size.
import type { TargetCheck } from '../lib/targets.ts';
import { median } from '../lib/percentile.ts';
import type { GossipSystem } from './cluster.ts';
import type { GossipOptions, GossipResult, GossipRun } from './run-gossip.ts';

export interface GossipInfo {
  /** "serf 0.9.4~ds1-1+b13 (Serf v0.8.2-dev)": the Debian version, then what the binary says. */
  readonly serf: string;
  readonly stressNg: string;
  readonly node: string;
  readonly commit: string;
  /** 1-minute load averages when the suite started and ended: other work on the machine shows up in every figure. */
  readonly loadAverage: number;
  readonly loadAverageAtEnd?: number;
}

const DASH = '—';
const MIB = 1024;

/** A timing that did not finish within its bound counts as infinitely slow, so a median or a goal cannot hide it. */
const orInfinity = (ms: number | undefined): number => ms ?? Infinity;

/** The median of timings, one that never finished counting as infinitely slow; NaN for none. */
export function medianMs(timings: readonly (number | undefined)[]): number {
  const values = timings.map(orInfinity).sort((a, b) => a - b);
  if (values.length === 0) return NaN;
  const mid = values.length >> 1;
  return values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

export function maxMs(timings: readonly (number | undefined)[]): number {
  return timings.length === 0 ? NaN : Math.max(...timings.map(orInfinity));
}

function millis(ms: number): string {
  if (Number.isNaN(ms)) return DASH;
  return Number.isFinite(ms) ? ms.toFixed(0) : 'never';
}

function seconds(ms: number): string {
  if (Number.isNaN(ms)) return DASH;
  return Number.isFinite(ms) ? (ms / 1000).toFixed(2) : 'never';
}

/** The run's line of the table; logged as each cluster ends, so an interrupted suite leaves its rows. */
export function tableRow(run: GossipRun): string {
  const r = run.result;
  if (!r) return `| ${run.n} | ${run.system} | failed: ${run.error ?? '?'} ||||||||||||||`;
  const rss = r.rssKiB.length === 0 ? DASH : `${(median([...r.rssKiB]) / MIB).toFixed(1)} / ${(Math.max(...r.rssKiB) / MIB).toFixed(1)}`;
  return `| ${[
    run.n,
    run.system,
    millis(medianMs(r.joinMs)),
    millis(maxMs(r.joinMs)),
    seconds(medianMs(r.detectionMs)),
    seconds(maxMs(r.detectionMs)),
    // A kill no survivor was seen to suspect (a poll that missed it) has no first suspicion, rather than a never.
    seconds(medianMs(r.firstSuspicionMs.filter((ms) => ms !== undefined))),
    r.detectionMs.length,
    r.stress.suspicions,
    r.stress.deaths,
    r.stress.recovered ? 'yes' : 'no',
    Number.isFinite(r.traffic.bytesPerSecondPerMember) ? r.traffic.bytesPerSecondPerMember.toFixed(0) : DASH,
    (100 * r.traffic.tcpShare).toFixed(0),
    Number.isFinite(r.traffic.maxMemberBytesPerSecond) ? r.traffic.maxMemberBytesPerSecond.toFixed(0) : DASH,
    rss,
    r.cpuMsPerSecond.length === 0 ? DASH : median([...r.cpuMsPerSecond]).toFixed(1),
  ].join(' | ')} |`;
}

function resultOf(runs: readonly GossipRun[], system: GossipSystem, n: number): GossipResult | undefined {
  return runs.find((r) => r.system === system && r.n === n)?.result;
}

function goal(target: string, mine: number | undefined, theirs: number | undefined, passes: (a: number, b: number) => boolean, detail: (a: number, b: number) => string): TargetCheck {
  if (mine === undefined || theirs === undefined || Number.isNaN(mine) || Number.isNaN(theirs)) return { status: 'SKIP', target, detail: 'not measured for both' };
  return { status: passes(mine, theirs) ? 'PASS' : 'MISS', target, detail: detail(mine, theirs) };
}

/** Issue 9's goals at each size: detection and join medians no slower than Serf, no false death under stress, no more bytes per member than Serf. */
export function evaluateGossipGoals(runs: readonly GossipRun[], sizes: readonly number[]): TargetCheck[] {
  return sizes.flatMap((n) => {
    const meshlet = resultOf(runs, 'meshlet', n);
    const serf = resultOf(runs, 'serf', n);
    const sec = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'never');
    const noMoreThan = (a: number, b: number): boolean => a <= b;
    const deaths = meshlet?.stress.deaths;
    return [
      goal(`n=${n} detection median <= Serf`, meshlet && medianMs(meshlet.detectionMs), serf && medianMs(serf.detectionMs), noMoreThan, (a, b) => `meshlet ${sec(a)} vs serf ${sec(b)}`),
      goal(`n=${n} join median <= Serf`, meshlet && medianMs(meshlet.joinMs), serf && medianMs(serf.joinMs), noMoreThan, (a, b) => `meshlet ${sec(a)} vs serf ${sec(b)}`),
      deaths === undefined
        ? { status: 'SKIP', target: `n=${n} no false death under stress`, detail: 'not measured' }
        : { status: deaths === 0 ? 'PASS' : 'MISS', target: `n=${n} no false death under stress`, detail: `meshlet ${deaths} (serf ${serf?.stress.deaths ?? DASH}) in ${meshlet!.stress.seconds} s` },
      goal(`n=${n} bytes/s per member <= Serf`, meshlet?.traffic.bytesPerSecondPerMember, serf?.traffic.bytesPerSecondPerMember, noMoreThan, (a, b) => `meshlet ${a.toFixed(0)} B/s vs serf ${b.toFixed(0)} B/s (${(a / b).toFixed(2)}x)`),
    ] satisfies TargetCheck[];
  });
}

/** The gossip section: how it was measured, the table, the goals. */
export function renderGossip(runs: readonly GossipRun[], options: GossipOptions, info: GossipInfo, goals: readonly TargetCheck[]): string {
  return [
    '## Gossip: Meshlet against Serf',
    '',
    `- ${info.serf} with \`-profile=lan\` and \`-encrypt\` (a 32-byte key, as Meshlet's); Meshlet ${info.commit}, \`bin/meshlet.js agent\` on Node ${info.node} with its default (LAN) gossip timings; both probe every 1 s`,
    `- member i binds 127.0.0.(i+1):7946, everyone joins through member 1; every agent on CPU 1, the harness on CPU 0; load average when the suite started: ${info.loadAverage.toFixed(2)}${info.loadAverageAtEnd === undefined ? '' : `, when it ended: ${info.loadAverageAtEnd.toFixed(2)}`}`,
    '- join: n − 3 members converged, then the last three start one at a time; each from its gossip UDP socket being bound (/proc/net/udp) until every agent so far lists every other alive; median and max over the three',
    `- detection: kill -9 of ${options.kills} member(s) one after another (never the seed), each restarted under its name once detected and rejoined before the next, so every kill meets n members; until every survivor lists it dead (Serf: failed); median and max over the kills ("never": not within 60 s). First suspicion: until the first survivor suspected it (Meshlet: listed it suspect, timed by its \`since\`; Serf: logged \`memberlist: Suspect … has failed\` for its own probe), median over the kills`,
    `- stress: \`stress-ng --cpu 2\` for ${options.stressS} s plus 10 s after; suspicions and deaths are alive→suspect and →dead transitions summed over the agents (Meshlet: \`meshlet_gossip_member_changes_total\`; Serf: memberlist's \`msg.suspect\` / \`msg.dead\` counters over statsd); every member was healthy, so each is false. Recovered: all listed all alive again within 30 s`,
    `- bytes: iptables counters (IP packet bytes) on each member's gossip UDP and TCP port over ${options.idleS} s idle, after the join; per member = all gossip bytes on the wire ÷ n ÷ s; busiest: one member's own sent + received. RSS: VmRSS per agent at the end of that window, median / max; idle CPU: user + system per agent over that window, median`,
    `- ${info.stressNg}`,
    '',
    '| n | system | join median ms | join max ms | detection median s | detection max s | first suspicion median s | kills | suspicions under stress | deaths under stress | recovered | B/s per member | TCP % | busiest member B/s | RSS median / max MiB | idle CPU ms/s |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
    ...runs.map(tableRow),
    '',
    ...runs.flatMap((run) => (run.result?.notes ?? []).map((note) => `- ${run.system} n=${run.n}: ${note}`)),
    ...(runs.some((run) => (run.result?.notes.length ?? 0) > 0) ? [''] : []),
    '### Gossip goals',
    '',
    ...goals.map((g) => `- ${g.status} ${g.target}: ${g.detail}`),
    '',
  ].join('\n');
}
