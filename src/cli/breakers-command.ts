// `meshlet breakers [--watch]`: the open and half-open breakers of every agent with the reason
// the agent recorded; --watch then prints each breaker change WatchMesh streams, one line per
// change, until Ctrl-C (breakers-watch.ts).
import { parseDuration } from '../config/duration.ts';
import type { AgentStatus, BreakerReport } from '../control/control-proto.ts';
import { CommandFailure, EXIT, withControl, type ConnectionFlags } from './operator-client.ts';
import { breakerJson, breakerTarget } from './breaker-json.ts';
import { watchBreakers } from './breakers-watch.ts';
import { formatAgo, formatTable, printJson, styleFor, styledBreakerState, type OutputFormat, type Style } from './control-output.ts';

export const DEFAULT_RECONNECT_FOR = '60s';

export interface BreakersFlags extends ConnectionFlags {
  readonly watch?: boolean;
  /** How long --watch keeps trying to get a lost stream back before it exits 4. */
  readonly reconnectFor?: string;
  readonly output: OutputFormat;
}

interface NodeBreaker {
  readonly node: string;
  readonly connected: boolean;
  readonly breaker: BreakerReport;
}

export function runBreakers(flags: BreakersFlags): Promise<number> {
  return withControl(flags, async (control) => {
    if (flags.watch) {
      const reconnectFor = parseDuration(flags.reconnectFor ?? DEFAULT_RECONNECT_FOR);
      if (!reconnectFor.ok) throw new CommandFailure(`--reconnect-for: ${reconnectFor.reason}`, EXIT.invalid);
      return watchBreakers(control, flags.output, reconnectFor.ms);
    }
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
