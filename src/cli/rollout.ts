// Following a new policy version out to the agents after an apply or a rollback: ListAgents
// every 100 ms until every connected agent has acknowledged or refused it, or the wait is over.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentStatus, FieldError } from '../control/control-proto.ts';
import type { ControlConnection } from './operator-client.ts';

const POLL_INTERVAL_MS = 100;

export interface NackedAgent {
  readonly node: string;
  readonly version: number;
  readonly errors: readonly FieldError[];
}

/** Where the rollout of one version stands; agents are named by node. */
export interface Rollout {
  readonly version: number;
  /** Connected agents, the ones waited for. */
  readonly connected: number;
  readonly acked: readonly string[];
  readonly nacked: readonly NackedAgent[];
  /** Connected agents that have answered neither way yet. */
  readonly pending: readonly string[];
  /** Known but not connected: not waited for. */
  readonly disconnected: readonly string[];
  /** Every connected agent answered (acked or nacked). */
  readonly complete: boolean;
}

/** An agent on this version or a later one has taken it; a NACK of it or later, without that, is a refusal. Nodes come sorted. */
export function tallyRollout(agents: readonly AgentStatus[], version: number): Rollout {
  const acked: string[] = [];
  const nacked: NackedAgent[] = [];
  const pending: string[] = [];
  const disconnected: string[] = [];
  for (const agent of [...agents].sort((x, y) => x.node.localeCompare(y.node))) {
    if (!agent.connected) disconnected.push(agent.node);
    else if (agent.version >= version) acked.push(agent.node);
    else if (agent.nack !== null && agent.nack.version >= version) nacked.push({ node: agent.node, version: agent.nack.version, errors: agent.nack.errors });
    else pending.push(agent.node);
  }
  return { version, connected: acked.length + nacked.length + pending.length, acked, nacked, pending, disconnected, complete: pending.length === 0 };
}

/** "41/50 agents acked v7", with ", 2 nacked" once any did. */
export function rolloutLine(rollout: Rollout): string {
  const nacked = rollout.nacked.length > 0 ? `, ${rollout.nacked.length} nacked` : '';
  return `${rollout.acked.length}/${rollout.connected} agents acked v${rollout.version}${nacked}`;
}

/**
 * One line of progress: rewritten in place on a terminal, else printed once per change so a
 * log shows each step.
 */
export class ProgressLine {
  private last: string | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(text: string): void {
    if (text === this.last) return;
    this.last = text;
    if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${text}`);
    else this.stream.write(`${text}\n`);
  }

  /** Ends the line the terminal has been rewriting. */
  finish(): void {
    if (this.stream.isTTY && this.last !== undefined) this.stream.write('\n');
  }
}

export async function followRollout(control: ControlConnection, version: number, waitMs: number, progress: ProgressLine | undefined): Promise<Rollout> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { agents } = await control.call('ListAgents', {});
    const rollout = tallyRollout(agents, version);
    progress?.update(rolloutLine(rollout));
    if (rollout.complete || Date.now() >= deadline) {
      progress?.finish();
      return rollout;
    }
    await sleep(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
  }
}
