// Leader election of control-plane replicas on an etcd lease, by the protocol of etcd's own
// concurrency.Election (and etcd3's Campaign): each replica puts a key under <prefix>leader/
// bound to its lease, valued with its advertised address; the key created first (the lowest
// create revision) that still exists is the leader. A key goes away when its lease is revoked
// (a replica that stops) or expires (one that died or lost etcd), and the next oldest leads.
//
// Why not etcd3's Campaign as it is: its lease reports 'lost' only once no keepalive has
// succeeded for twice the TTL, and by then the lease has expired in etcd and another replica
// may lead already. Here the leader counts from each keepalive that etcd answered: etcd renewed
// the lease no earlier than that keepalive was sent, so the lease lives at least until
// sent + TTL. The replica leads only while that moment is more than STEP_DOWN_MARGIN_MS away,
// checked by a timer and again on every isLeader() (before every push), so a leader cut off
// from etcd has stopped before its key can expire and a successor be elected: there is never
// a moment with two replicas pushing.
import type { Etcd3, IKeyValue, Lease, Namespace, Watcher } from 'etcd3';
import type { Clock, TimerHandle } from '../clock.ts';
import type { Logger } from '../observability/logger.ts';
import type { Leadership } from './leadership.ts';

/** Lease TTL: a dead leader's successor takes over within about this long. */
export const DEFAULT_LEASE_TTL_SECONDS = 3;
/** A leader steps down this long before its lease could expire in etcd (clock rates, event-loop stalls). */
export const STEP_DOWN_MARGIN_MS = 1_000;
/** After a lease is lost (or could not be granted), a new campaign starts this much later. */
const RECAMPAIGN_MS = 1_000;
const ELECTION = 'leader/';

export interface EtcdElectionOptions {
  readonly client: Etcd3;
  /** The store's prefix; the election keys go under <prefix>leader/. */
  readonly prefix: string;
  readonly ttlSeconds?: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** One lease and the key campaigning with it. */
interface Term {
  readonly lease: Lease;
  key: string | undefined;
  /** Monotonic time until which etcd is known to keep the lease. */
  confirmedUntil: number;
  /** Monotonic times of keepalives sent and not answered yet, oldest first. */
  unanswered: number[];
  ended: boolean;
}

export class EtcdElection implements Leadership {
  private readonly ns: Namespace;
  private readonly ttlMs: number;
  /** Every campaign key etcd holds, as the watch has shown them: key → its create revision and value. */
  private readonly keys = new Map<string, { revision: bigint; value: string }>();
  private viewReady = false;
  private watcher: Watcher | undefined;
  private term: Term | undefined;
  private leading = false;
  private timer: TimerHandle | undefined;
  private recampaignTimer: TimerHandle | undefined;
  private viewRetry: TimerHandle | undefined;
  private readonly listeners = new Set<(leading: boolean) => void>();
  private closed = false;
  private advertise = '';

  constructor(private readonly options: EtcdElectionOptions) {
    this.ns = options.client.namespace(`${options.prefix}${ELECTION}`);
    this.ttlMs = (options.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS) * 1000;
  }

  /**
   * Starts watching the election and campaigning with `advertise`, the address followers tell
   * agents and operators to go to; leadership comes later, through onChange.
   */
  start(advertise: string): void {
    this.advertise = advertise;
    this.loadView();
    this.campaign();
  }

  isLeader(): boolean {
    const term = this.term;
    if (term === undefined || term.ended || term.key === undefined || !this.viewReady) return false;
    if (this.options.clock.now() >= term.confirmedUntil - STEP_DOWN_MARGIN_MS) return false;
    return this.oldest()?.[0] === term.key;
  }

  leaderAddress(): string | undefined {
    const term = this.term;
    // A view this replica cannot vouch for (it has lost etcd) names nobody.
    if (!this.viewReady || term === undefined || this.options.clock.now() >= term.confirmedUntil) return undefined;
    const oldest = this.oldest();
    // Its own key first while it does not lead: it is stepping down, and nobody leads yet.
    if (oldest === undefined || (oldest[0] === term.key && !this.isLeader())) return undefined;
    return oldest[1].value;
  }

  onChange(listener: (leading: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resigns (revokes the lease, so a successor is elected at once) and stops. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    if (this.recampaignTimer) this.options.clock.clearTimeout(this.recampaignTimer);
    if (this.viewRetry) this.options.clock.clearTimeout(this.viewRetry);
    const term = this.term;
    if (term !== undefined) term.ended = true;
    this.evaluate();
    await term?.lease.revoke().catch(() => undefined);
    await this.watcher?.cancel().catch(() => undefined);
    this.listeners.clear();
  }

  private campaign(): void {
    this.recampaignTimer = undefined;
    if (this.closed) return;
    const { clock } = this.options;
    const grantSent = clock.now();
    const lease = this.ns.lease(this.ttlMs / 1000);
    const term: Term = { lease, key: undefined, confirmedUntil: grantSent, unanswered: [], ended: false };
    this.term = term;
    lease.on('keepaliveEstablished', () => {
      term.unanswered = [];
    });
    lease.on('keepaliveFired', () => term.unanswered.push(clock.now()));
    lease.on('keepaliveSucceeded', (response) => {
      const sent = term.unanswered.shift();
      if (sent !== undefined) term.confirmedUntil = Math.max(term.confirmedUntil, sent + Number(response.TTL) * 1000);
      this.evaluate();
    });
    lease.on('lost', (error) => this.endTerm(term, error.message));
    void (async () => {
      const id = await lease.grant();
      term.confirmedUntil = grantSent + this.ttlMs;
      const key = `${id}`;
      const result = await this.ns.if(key, 'Create', '==', 0).then(this.ns.put(key).value(this.advertise).lease(id)).commit();
      if (!result.succeeded) throw new Error(`campaign key ${key} exists already`);
      term.key = key;
      this.options.logger.info({ key: `${this.options.prefix}${ELECTION}${key}`, advertise: this.advertise }, 'campaigning for leadership of the control plane');
      this.evaluate();
    })().catch((error: unknown) => this.endTerm(term, (error as Error).message));
  }

  private endTerm(term: Term, why: string): void {
    if (term.ended) return;
    term.ended = true;
    this.options.logger.warn({ why }, 'etcd lease lost; campaigning again');
    term.lease.revoke().catch(() => undefined);
    this.evaluate();
    if (!this.closed && this.term === term) this.recampaignTimer = this.options.clock.setTimeout(() => this.campaign(), RECAMPAIGN_MS);
  }

  /** Loads every campaign key, then follows their changes from the revision they were read at. */
  private loadView(): void {
    if (this.closed) return;
    this.viewReady = false;
    this.ns.getAll().exec().then((response) => {
      this.keys.clear();
      for (const kv of response.kvs) this.keep(kv);
      this.viewReady = true;
      const watcher = this.ns.watch().prefix('').startRevision(String(BigInt(response.header.revision) + 1n)).watcher();
      this.watcher = watcher;
      watcher.on('put', (kv) => {
        this.keep(kv);
        this.evaluate();
      });
      watcher.on('delete', (kv) => {
        this.keys.delete(kv.key.toString());
        this.evaluate();
      });
      watcher.on('error', () => {
        if (this.watcher !== watcher) return;
        this.watcher = undefined;
        void watcher.cancel().catch(() => undefined);
        this.loadView();
      });
      this.evaluate();
    }, () => {
      this.viewRetry = this.options.clock.setTimeout(() => this.loadView(), RECAMPAIGN_MS);
    });
  }

  private keep(kv: IKeyValue): void {
    this.keys.set(kv.key.toString(), { revision: BigInt(kv.create_revision), value: kv.value.toString() });
  }

  private oldest(): [string, { revision: bigint; value: string }] | undefined {
    let oldest: [string, { revision: bigint; value: string }] | undefined;
    for (const entry of this.keys) if (oldest === undefined || entry[1].revision < oldest[1].revision) oldest = entry;
    return oldest;
  }

  /** Recomputes leadership, tells the listeners of a change, and sets the timer for the step-down deadline. */
  private evaluate(): void {
    const leading = this.isLeader();
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (leading) {
      const deadline = this.term!.confirmedUntil - STEP_DOWN_MARGIN_MS - this.options.clock.now();
      this.timer = this.options.clock.setTimeout(() => this.evaluate(), Math.max(1, deadline + 1));
    }
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.logger.info({ advertise: this.advertise, leader: this.leaderAddress() }, leading ? 'elected leader of the control plane' : 'stepped down: not the leader of the control plane');
    for (const listener of this.listeners) listener(leading);
  }
}
