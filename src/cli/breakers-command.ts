// `meshlet breakers [--watch]`: the open and half-open breakers of every agent with the reason
// the agent recorded; --watch then prints each breaker change WatchMesh streams, one line per
// change, until Ctrl-C.
import type * as grpc from '@grpc/grpc-js';
import type { AgentStatus, BreakerReport, MeshEvent } from '../control/control-proto.ts';
import { CommandFailure, EXIT, withControl, type ConnectionFlags, type ControlConnection } from './operator-client.ts';
import { breakerJson, breakerTarget } from './breaker-json.ts';
import { formatAgo, formatTable, isoTime, printJson, styleFor, styledBreakerState, type OutputFormat, type Style } from './control-output.ts';

export interface BreakersFlags extends ConnectionFlags {
  readonly watch?: boolean;
  readonly output: OutputFormat;
}

interface NodeBreaker {
  readonly node: string;
  readonly connected: boolean;
  readonly breaker: BreakerReport;
}

export function runBreakers(flags: BreakersFlags): Promise<number> {
  return withControl(flags, async (control) => {
    if (flags.watch) return watchBreakers(control, flags.output);
    const { agents } = await control.call('ListAgents', {});
    const breakers = notClosed(agents);
    if (flags.output === 'json') printJson({ breakers: breakers.map((entry) => ({ ...breakerJson(entry.breaker, entry.node), agentConnected: entry.connected })) });
    else process.stdout.write(`${breakersTable(breakers, styleFor(process.stdout))}\n`);
    return EXIT.ok;
  });
}

function notClosed(agents: readonly AgentStatus[]): NodeBreaker[] {
  const result: NodeBreaker[] = [];
  for (const agent of agents) {
    for (const breaker of agent.lastReport?.breakers ?? []) {
      if (breaker.state !== 'BREAKER_STATE_CLOSED') result.push({ node: agent.node, connected: agent.connected, breaker });
    }
  }
  return result.sort((a, b) => a.node.localeCompare(b.node) || breakerTarget(a.breaker).localeCompare(breakerTarget(b.breaker)));
}

function breakersTable(breakers: readonly NodeBreaker[], style: Style): string {
  if (breakers.length === 0) return 'no open or half-open breakers';
  const now = Date.now();
  return formatTable(['NODE', 'UPSTREAM', 'ENDPOINT', 'STATE', 'SINCE', 'REASON'], breakers.map(({ node, connected, breaker }) => [
    connected ? node : `${node} (disconnected)`,
    breaker.upstream,
    breaker.endpoint || '(all)',
    styledBreakerState(breaker.state, style),
    formatAgo(breaker.sinceMs, now),
    breaker.reason,
  ]));
}

/**
 * The watch starts before the current breakers are read, so no change between the two is
 * missed; one may print twice. Ends with 0 on Ctrl-C or SIGTERM, 4 when the stream fails.
 */
async function watchBreakers(control: ControlConnection, output: OutputFormat): Promise<number> {
  const style = styleFor(process.stdout);
  const print = (breaker: BreakerReport, node: string, atMs: number): void => {
    if (output === 'json') process.stdout.write(`${JSON.stringify({ atMs, at: isoTime(atMs), ...breakerJson(breaker, node) })}\n`);
    else process.stdout.write(`${isoTime(atMs) ?? '-'}  ${node}  ${breakerTarget(breaker)}  ${styledBreakerState(breaker.state, style)}  ${breaker.reason}\n`);
  };
  const stream: grpc.ClientReadableStream<MeshEvent> = await control.watch();
  const held: MeshEvent[] = [];
  let listed = false;
  const onEvent = (event: MeshEvent): void => {
    if (event.kind !== 'breaker') return;
    if (listed) print(event.breaker, event.node || event.breaker.node, event.atMs);
    else held.push(event);
  };
  stream.on('data', onEvent);
  return new Promise<number>((resolve, reject) => {
    let stopping = false;
    const stop = (): void => {
      stopping = true;
      stream.cancel();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const settle = (outcome: number | CommandFailure): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (typeof outcome === 'number') resolve(outcome);
      else reject(outcome);
    };
    stream.on('error', (error: grpc.ServiceError) => settle(stopping ? EXIT.ok : control.failure(error)));
    stream.on('end', () => settle(stopping ? EXIT.ok : new CommandFailure(`the control plane at ${control.server} ended the watch`, EXIT.unreachable)));
    control.call('ListAgents', {}).then(
      ({ agents }) => {
        for (const { node, breaker } of notClosed(agents)) print(breaker, node, breaker.sinceMs);
        listed = true;
        for (const event of held.splice(0)) onEvent(event);
      },
      (failure: CommandFailure) => {
        stopping = true;
        stream.cancel();
        settle(failure);
      },
    );
  });
}
