// The two proxies the fault scenarios compare, each in front of the same three instances:
// meshlet with the resilience policy of examples/agent.yaml, and HAProxy configured as issue 8
// measured it (retries 3, option redispatch, check inter 1s fall 2 rise 2, observe layer7,
// retry-on all-retryable-errors).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { agentNodeArgs } from '../../src/cli/agent-v8-flags.ts';
import { PROXY_CPU } from '../lib/cpus.ts';
import { haproxyPreamble } from '../rows/haproxy.ts';
import { freePorts } from '../lib/ports.ts';
import type { ManagedProcess, ProcessGroup } from '../lib/processes.ts';
import { waitForHttpOk, waitForPort } from '../lib/readiness.ts';

export type FaultProxy = 'meshlet' | 'haproxy';
export const FAULT_PROXIES: readonly FaultProxy[] = ['meshlet', 'haproxy'];

export interface RunningProxy {
  readonly port: number;
  readonly process: ManagedProcess;
  /** Request attempts the proxy has sent the instance at `port` so far, by its own counters. */
  attemptsAt(port: number): Promise<number>;
}

export interface ProxyOptions {
  /** HAProxy's balance: leastconn is the better of its two for a slow instance. */
  readonly haproxyBalance: 'roundrobin' | 'leastconn';
}

/**
 * The policy under test: examples/agent.yaml's, with intervals short enough for a 10 s fault,
 * and hedging at the p95 (opt-in, so not in the example): the slow-instance scenario is judged with it.
 */
export function meshletFaultPolicy(): Record<string, unknown> {
  return {
    lb: { algorithm: 'peak_ewma' },
    timeout: '2s',
    retry: { attempts: 3, perTryTimeout: '500ms', backoff: { base: '25ms', max: '250ms' }, on: ['connect-failure', 'reset', '5xx'], budget: { ratio: 0.2, minPerSecond: 10 } },
    circuitBreaker: { errorThresholdPercentage: 50, volumeThreshold: 20, window: '10s', resetTimeout: '5s' },
    limits: { maxConcurrent: 1024, maxPending: 256 },
    // Envoy's request volume (100) is per 10 s interval; over 1 s at ~67 calls per instance it would judge none.
    hedge: { delay: 'p95' },
    outlierDetection: { consecutiveFailures: 5, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 50, successRate: { requestVolume: 20 } },
    fallback: { status: 503, headers: { 'content-type': 'application/json' }, body: '{"degraded":true}' },
  };
}

export function meshletFaultConfig(adminPort: number, listenPort: number, instancePorts: readonly number[]): string {
  return stringify({
    node: 'bench-faults',
    admin: { listen: `127.0.0.1:${adminPort}` },
    log: { level: 'warn' },
    upstreams: [{ name: 'faults', protocol: 'http', listen: `127.0.0.1:${listenPort}`, endpoints: instancePorts.map((p) => `127.0.0.1:${p}`), policy: meshletFaultPolicy() }],
  });
}

export function haproxyFaultConfig(listenPort: number, statsPort: number, instancePorts: readonly number[], options: ProxyOptions): string {
  return [
    ...haproxyPreamble({ connect: '1s', client: '30s', server: '2s' }),
    '  retries 3',
    '  option redispatch',
    '  retry-on all-retryable-errors',
    'frontend fe',
    `  bind 127.0.0.1:${listenPort}`,
    '  default_backend be',
    'backend be',
    `  balance ${options.haproxyBalance}`,
    ...instancePorts.map((port, i) => `  server s${i + 1} 127.0.0.1:${port} check inter 1s fall 2 rise 2 observe layer7`),
    'frontend stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

export async function startProxy(kind: FaultProxy, group: ProcessGroup, tmpDir: string, instancePorts: readonly number[], options: ProxyOptions): Promise<RunningProxy> {
  if (kind === 'haproxy') {
    const [port, statsPort] = (await freePorts(2)) as [number, number];
    const file = join(tmpDir, 'haproxy-faults.cfg');
    writeFileSync(file, haproxyFaultConfig(port, statsPort, instancePorts, options));
    const proxy = group.start('haproxy', PROXY_CPU, 'haproxy', ['-db', '-f', file]);
    await waitForPort(proxy, port);
    const server = (instancePort: number) => `s${instancePorts.indexOf(instancePort) + 1}`;
    return { port, process: proxy, attemptsAt: async (instancePort) => haproxySessions(await fetchText(`http://127.0.0.1:${statsPort}/stats;csv`), server(instancePort)) };
  }
  const [admin, port] = (await freePorts(2)) as [number, number];
  const file = join(tmpDir, 'meshlet-faults.yaml');
  writeFileSync(file, meshletFaultConfig(admin, port, instancePorts));
  const agent = group.start('meshlet', PROXY_CPU, process.execPath, agentNodeArgs(['-c', file], process.version));
  await waitForHttpOk(agent, `http://127.0.0.1:${admin}/readyz`);
  await waitForPort(agent, port);
  return { port, process: agent, attemptsAt: async (instancePort) => meshletAttempts(await fetchText(`http://127.0.0.1:${admin}/metrics`), `127.0.0.1:${instancePort}`) };
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.text();
}

/**
 * A server's `stot` in HAProxy's CSV stats: the sessions assigned to it, a connect that failed
 * (and was redispatched) included.
 */
export function haproxySessions(csv: string, server: string): number {
  const [header = '', ...rows] = csv.split('\n');
  const stot = header.replace(/^# /, '').split(',').indexOf('stot');
  const row = rows.find((line) => line.startsWith(`be,${server},`));
  if (stot < 0 || row === undefined) throw new Error(`no stot for server ${server} in HAProxy's stats`);
  return Number(row.split(',')[stot]);
}

/** meshlet_requests_total over every label set of one endpoint: every attempt sent there, connect failures included. */
export function meshletAttempts(metrics: string, endpoint: string): number {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith('meshlet_requests_total{') && line.includes(`endpoint="${endpoint}"`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
