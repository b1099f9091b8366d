// What a Meshlet agent's admin API says about membership: GET /api/v1/members, and the
// member-change counter in GET /metrics.
import type { ChangeCounts, MemberStatus, Observation } from './cluster.ts';

const STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

export interface ListedMember {
  readonly node: string;
  readonly status: MemberStatus;
  /** When it entered that status, as the API wrote it (sinceEpochMs reads it). */
  readonly since: unknown;
  /** How long ago, by the agent's clock when it answered: the better timing, where the API gives it. */
  readonly sinceMs?: number;
}

/** Epoch ms are above this; a monotonic reading (ms since the process started) is far below. */
const EPOCH_MS_FLOOR = 1e12;

/**
 * `since` as epoch ms: an ISO date, epoch ms, or the agent's monotonic clock (performance.now(),
 * counted from the process's start), placed on the wall clock by when the agent was started.
 */
export function sinceEpochMs(since: unknown, agentStartedAt: number): number | undefined {
  if (typeof since === 'number' && Number.isFinite(since) && since >= 0) return since >= EPOCH_MS_FLOOR ? since : agentStartedAt + since;
  if (typeof since !== 'string') return undefined;
  const parsed = Date.parse(since);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** The body of GET /api/v1/members: `{ self, members: [{ node, status, since, … }] }`, self left out. */
export function parseMeshletMembers(body: unknown): ListedMember[] {
  const { self, members } = (body ?? {}) as { self?: { node?: unknown }; members?: unknown };
  if (!Array.isArray(members)) throw new Error('GET /api/v1/members: no members array');
  const listed: ListedMember[] = [];
  for (const raw of members as { node?: unknown; status?: unknown; since?: unknown; sinceMs?: unknown }[]) {
    if (typeof raw.node !== 'string' || raw.node === self?.node) continue;
    const status = STATUSES.find((s) => s === raw.status);
    if (!status) throw new Error(`GET /api/v1/members: ${raw.node} has status ${String(raw.status)}`);
    const sinceMs = typeof raw.sinceMs === 'number' && Number.isFinite(raw.sinceMs) && raw.sinceMs >= 0 ? raw.sinceMs : undefined;
    listed.push({ node: raw.node, status, since: raw.since, ...(sinceMs === undefined ? {} : { sinceMs }) });
  }
  return listed;
}

/** meshlet_gossip_member_changes_total by status, summed over any other labels, from the Prometheus text. */
export function parseMemberChanges(metrics: string): ChangeCounts {
  const counts = { suspect: 0, dead: 0 };
  for (const line of metrics.split('\n')) {
    const match = /^meshlet_gossip_member_changes_total\{([^}]*)\}\s+([\d.e+]+)/.exec(line);
    if (!match) continue;
    const status = /(?:^|,)\s*status="([^"]*)"/.exec(match[1]!)?.[1];
    if (status === 'suspect' || status === 'dead') counts[status] += Number(match[2]);
  }
  return counts;
}

/**
 * When a change a poll found happened: its `since` when that falls in the window the change can
 * have happened in (after the previous poll of this agent was sent, before this one answered),
 * else the end of that window.
 */
export function changedAt(since: number | undefined, previousPollSentAt: number, answeredAt: number): number {
  if (since === undefined || since > answeredAt) return answeredAt;
  return Math.max(since, previousPollSentAt);
}

/** What one agent's poll found and when, against what its polls showed before. */
export interface PollOfAgent {
  readonly observer: string;
  readonly listed: readonly ListedMember[];
  /** When the agent was spawned: places a monotonic `since` on the wall clock. */
  readonly startedAt: number;
  /** When the previous answered poll was sent (the spawn, before any). */
  readonly previousSentAt: number;
  readonly answeredAt: number;
}

/**
 * The members whose status differs from `known` (updated in place), each as an observation timed
 * by its `sinceMs` (counted back from the answer, which the agent wrote a moment before it
 * arrived: a change reads that moment late) or else its `since`.
 */
export function changesFound(poll: PollOfAgent, known: Map<string, MemberStatus>): Observation[] {
  const found: Observation[] = [];
  for (const member of poll.listed) {
    if (known.get(member.node) === member.status) continue;
    known.set(member.node, member.status);
    const since = member.sinceMs === undefined ? sinceEpochMs(member.since, poll.startedAt) : poll.answeredAt - member.sinceMs;
    found.push({ observer: poll.observer, member: member.node, status: member.status, at: changedAt(since, poll.previousSentAt, poll.answeredAt) });
  }
  return found;
}
