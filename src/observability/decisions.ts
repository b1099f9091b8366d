// Every decision the agent takes on its own (a breaker opening, an ejection, a shed or
// rate-limited call, an exhausted retry budget, a fallback served) is recorded here with its
// reason in words and numbers. The admin API lists the recent ones and streams new ones
// (/api/v1/events); the control plane will collect them. Bounded: a ring of the latest
// decisions, and per-call decisions coalesced to at most one event per second per scope.

import type { Clock } from '../clock.ts';

/** Every kind, in the order the dashboard lists them (static/dashboard.js keeps the same list: SSE delivers named events only to their listeners). */
export const DECISION_KINDS = [
  'breaker_opened',
  'breaker_half_open',
  'breaker_closed',
  'breaker_forced',
  'ejected',
  'unejected',
  'unreachable',
  'reachable',
  'panic',
  'overflow',
  'shed',
  'rate_limited',
  'budget_exhausted',
  'fallback',
  'concurrency_limit_changed',
  'member_changed',
  'service_health_changed',
  'gossip_keys_changed',
] as const;

export type DecisionKind = (typeof DECISION_KINDS)[number];

export interface Decision {
  /** Increases by one per decision recorded, so a reader can tell it missed some. */
  readonly seq: number;
  /** Wall-clock milliseconds since the epoch. */
  readonly at: number;
  readonly kind: DecisionKind;
  /** The upstream, "service:<name>" for an inbound service, or "gossip" for membership. */
  readonly scope: string;
  readonly endpoint?: string;
  /** What happened and why, for a person: "opened: 12 of 20 calls failed in the last 10 s (60 % ≥ 50 %) …". */
  readonly reason: string;
  /** The numbers behind the reason, for a dashboard. */
  readonly data?: Readonly<Record<string, number | string | boolean | null>>;
  /** The agent that took it, on the control plane's mesh-wide stream (an agent's own leaves it out). */
  readonly node?: string;
  /** For a coalesced per-call decision: the calls it stands for (this one and those since the last event). */
  readonly count?: number;
}

export type DecisionInput = Omit<Decision, 'seq' | 'at' | 'count'>;

export type DecisionListener = (decision: Decision) => void;

const DEFAULT_CAPACITY = 1000;
/** A per-call decision is published at most this often per counter; the rest are counted into the next. */
const COALESCE_MS = 1000;

export class DecisionLog {
  private readonly ring: Decision[] = [];
  private next = 0;
  private seq = 0;
  private readonly listeners = new Set<DecisionListener>();

  constructor(
    private readonly clock: Clock,
    /** Wall-clock time for the `at` field (Date.now in the agent). */
    private readonly wallNow: () => number,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {}

  record(input: DecisionInput, count?: number): Decision {
    const decision: Decision = { seq: ++this.seq, at: this.wallNow(), ...input, ...(count !== undefined ? { count } : {}) };
    if (this.ring.length < this.capacity) this.ring.push(decision);
    else this.ring[this.next] = decision;
    this.next = (this.next + 1) % this.capacity;
    for (const listener of this.listeners) {
      try {
        listener(decision);
      } catch {
        // A reader's failure (a broken event stream) is its own; the others still hear it.
      }
    }
    return decision;
  }

  /** Oldest first. */
  recent(): Decision[] {
    return this.ring.length < this.capacity ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  /** Hears every decision from now on; returns the unsubscribe. */
  subscribe(listener: DecisionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /**
   * A counter for a decision taken per call (a shed, a rate-limited call, a fallback served),
   * bound once per scope at config time: the first hit publishes at once, later hits within a
   * second are counted into the next published one.
   */
  counter(kind: DecisionKind, scope: string): DecisionCounter {
    return new DecisionCounter(this, this.clock, kind, scope);
  }
}

export class DecisionCounter {
  private lastPublished = Number.NEGATIVE_INFINITY;
  private unpublished = 0;

  constructor(
    private readonly log: DecisionLog,
    private readonly clock: Clock,
    readonly kind: DecisionKind,
    readonly scope: string,
  ) {}

  /** One call decided; `reason` is only read when an event is published, so pass a constant or a bound function. */
  hit(reason: string | (() => string), data?: DecisionInput['data']): void {
    this.unpublished++;
    const now = this.clock.now();
    if (now - this.lastPublished < COALESCE_MS) return;
    this.lastPublished = now;
    const count = this.unpublished;
    this.unpublished = 0;
    this.log.record({ kind: this.kind, scope: this.scope, reason: typeof reason === 'string' ? reason : reason(), ...(data ? { data } : {}) }, count);
  }
}
