// `meshlet demo`: a whole mesh on this machine in a few seconds. Starts sample upstreams and
// an agent as child processes, sends a short bounded load through the agent, prints where the
// calls went and how fast, and stops everything it started.
import { startAgentProcess, type RunningAgent } from './demo/agent-process.ts';
import { startSampleUpstream, type SampleUpstream } from './demo/sample-upstream-process.ts';
import { catalogWeights, demoAgentConfig, paymentsInstances } from './demo/demo-config.ts';
import { grpcUnaryLoad, httpLoad, type LoadTally } from './demo/load.ts';
import { formatDemoReport, type InstanceRow, type UpstreamRow } from './demo/report.ts';

export interface DemoOptions {
  /** HTTP requests to the catalog upstream (default 300); a third as many gRPC calls go to payments. */
  readonly requests?: number;
  readonly out?: NodeJS.WritableStream;
}

const concurrency = 10;
const proxyRequests = 10;

/** Runs the demo; resolves with the exit code: 0 when every call succeeded, 1 otherwise. */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const say = (line: string): void => {
    out.write(`${line}\n`);
  };
  const requests = Math.max(1, Math.floor(options.requests ?? 300));
  const running: Array<{ stop(): Promise<unknown> }> = [];
  try {
    say(`meshlet demo: starting ${catalogWeights.length} HTTP instances of "catalog" and ${paymentsInstances} gRPC instances of "payments"…`);
    const catalog = await startAll(running, catalogWeights.map((_, i) => () => startSampleUpstream({ kind: 'http1', id: `catalog-${i + 1}` })));
    const payments = await startAll(running, Array.from({ length: paymentsInstances }, (_, i) => () => startSampleUpstream({ kind: 'grpc', id: `payments-${i + 1}` })));

    say('Starting the agent…');
    const agent = await startAgentProcess(demoAgentConfig(catalog, payments));
    running.push(agent);
    say(`Agent ready (pid ${agent.pid}); admin API at http://${agent.admin}`);

    const grpcCalls = Math.ceil(requests / 3);
    say(`Sending ${requests} HTTP requests and ${grpcCalls} gRPC calls, ${concurrency} at a time, and ${proxyRequests} through the proxy port…`);
    const catalogTally = await httpLoad({ address: listener(agent, 'upstream:catalog'), count: requests, concurrency });
    const paymentsTally = await grpcUnaryLoad({ address: listener(agent, 'upstream:payments'), count: grpcCalls, concurrency });
    const proxyTally = await httpLoad({ address: listener(agent, 'proxy'), count: proxyRequests, concurrency, host: 'catalog' });

    const batches = [
      { name: 'catalog', via: 'weighted_round_robin', tally: catalogTally },
      { name: 'payments', via: 'peak_ewma, gRPC', tally: paymentsTally },
      { name: 'catalog', via: 'proxy, Host: catalog', tally: proxyTally },
    ];
    const upstreams: UpstreamRow[] = batches.map(({ name, via, tally }) => ({
      name, via, calls: tally.calls, failures: tally.failures, latenciesMs: tally.latenciesMs,
    }));
    const instances: InstanceRow[] = [
      ...catalog.map((u, i) => instanceRow(u, 'catalog', catalogWeights[i]!, catalogTally, proxyTally)),
      ...payments.map((u) => instanceRow(u, 'payments', 1, paymentsTally)),
    ];
    const failures = batches
      .filter(({ tally }) => tally.failures > 0)
      .map(({ name, via, tally }) => `${name} (${via}): ${tally.failures} of ${tally.calls} failed; first: ${tally.firstFailure}`);
    out.write(formatDemoReport({ upstreams, instances, admin: agent.admin, failures }));
    return failures.length === 0 ? 0 : 1;
  } catch (error) {
    say(`meshlet demo failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await Promise.allSettled(running.map((r) => r.stop()));
    say(`Stopped the agent and the sample instances.`);
  }
}

/** Starts every process, keeping track of each that started even when another fails. */
async function startAll(running: Array<{ stop(): Promise<unknown> }>, starters: Array<() => Promise<SampleUpstream>>): Promise<SampleUpstream[]> {
  const results = await Promise.allSettled(starters.map((start) => start()));
  const started: SampleUpstream[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') {
      running.push(result.value);
      started.push(result.value);
    }
  }
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return started;
}

function listener(agent: RunningAgent, name: string): string {
  const address = agent.listeners[name];
  if (!address) throw new Error(`the agent reported no "${name}" listener (it has: ${Object.keys(agent.listeners).join(', ')})`);
  return address;
}

function instanceRow(upstream: SampleUpstream, name: string, weight: number, ...tallies: LoadTally[]): InstanceRow {
  const received = tallies.reduce((sum, t) => sum + (t.byInstance.get(upstream.id) ?? 0), 0);
  return { id: upstream.id, upstream: name, weight, received };
}
