// `meshlet agents`: every agent the control plane knows, the policy version it acknowledged
// and any NACK with the agent's errors.
import type { AgentStatus, Nack } from '../control/control-proto.ts';
import { EXIT, withControl, type ConnectionFlags } from './operator-client.ts';
import { formatAgo, formatTable, isoTime, plural, printJson, styleFor, type OutputFormat } from './control-output.ts';
import { formatFieldError } from './policy-change.ts';

export interface AgentsFlags extends ConnectionFlags {
  readonly output: OutputFormat;
}

const MAX_NACK_SUMMARY = 80;

export function runAgents(flags: AgentsFlags): Promise<number> {
  return withControl(flags, async (control) => {
    const { agents, currentVersion } = await control.call('ListAgents', {});
    const sorted = [...agents].sort((a, b) => a.node.localeCompare(b.node));
    if (flags.output === 'json') printJson({ currentVersion, agents: sorted.map((agent) => agentJson(agent, currentVersion)) });
    else process.stdout.write(`${agentsTable(sorted, currentVersion)}\n`);
    return EXIT.ok;
  });
}

function agentJson(agent: AgentStatus, currentVersion: number): object {
  return {
    node: agent.node,
    softwareVersion: agent.softwareVersion,
    connected: agent.connected,
    version: agent.version,
    onCurrent: agent.version === currentVersion,
    nack: agent.nack !== null && agent.nack.version > 0 ? { version: agent.nack.version, errors: agent.nack.errors } : null,
    lastSeenMs: agent.lastSeenMs,
    lastSeen: isoTime(agent.lastSeenMs),
  };
}

function agentsTable(agents: readonly AgentStatus[], currentVersion: number): string {
  const style = styleFor(process.stdout);
  const now = Date.now();
  const rows = agents.map((agent) => [
    agent.node,
    agent.softwareVersion || '-',
    agent.connected ? 'yes' : style.red('no'),
    agent.version === 0 ? '-' : agent.version === currentVersion ? `v${agent.version}` : style.yellow(`v${agent.version}`),
    nackSummary(agent.nack, style.red),
    formatAgo(agent.lastSeenMs, now),
  ]);
  const connected = agents.filter((agent) => agent.connected).length;
  const onCurrent = agents.filter((agent) => agent.version === currentVersion).length;
  const summary = `${plural(agents.length, 'agent')}, ${connected} connected, ${onCurrent} on v${currentVersion}`;
  if (agents.length === 0) return summary;
  return `${formatTable(['NODE', 'SOFTWARE', 'CONNECTED', 'ACKED', 'NACK', 'LAST SEEN'], rows)}\n${summary}`;
}

/** "v8: upstreams.payments.retry.attempts: must be … (+2 more)", cut to fit a table cell. */
function nackSummary(nack: Nack | null, red: (text: string) => string): string {
  if (nack === null || nack.version === 0) return '-';
  const [first] = nack.errors;
  let text = first === undefined ? `v${nack.version}` : `v${nack.version}: ${formatFieldError(first)}`;
  const more = nack.errors.length > 1 ? ` (+${nack.errors.length - 1} more)` : '';
  if (text.length + more.length > MAX_NACK_SUMMARY) text = `${text.slice(0, MAX_NACK_SUMMARY - more.length - 1)}…`;
  return red(text + more);
}
