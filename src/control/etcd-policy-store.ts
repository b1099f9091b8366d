// The policy store of a replicated control plane, in etcd under a prefix (default /meshlet/):
//
//   policy/current            the newest version number, as decimal text
//   policy/meta/<n, 20 digits> the version's metadata (author, time, rollback source, SHA-256)
//   policy/documents/<n>      the document's JSON text, as stored
//
// Metadata and document are separate keys so a history page reads no documents. A put is one
// transaction: if `current` is the version it builds on, write the version's two keys and the
// new `current`, else read back what holds that number. etcd answers only once the
// transaction is committed on a quorum, so a put that resolves survives any minority's loss.
// A put that was committed although its answer was lost (and etcd3 retried it) finds its own
// metadata under the number and counts as done, not as a conflict.
//
// Every replica learns of versions through one watch on policy/, its own puts included: the
// watch gives the newest number, and versions are delivered from the last delivered one up to
// it, one at a time, in order, each once; a version the events did not carry whole (a watch that
// came back after a break, a compaction) is read from etcd first. So current() is memory, and
// never older than the last put this replica answered.
import { createHash } from 'node:crypto';
import type { Etcd3, IKeyValue, Namespace, Watcher } from 'etcd3';
import type { Clock, TimerHandle } from '../clock.ts';
import type { Logger } from '../observability/logger.ts';
import { MAX_AUTHOR_CHARS } from './file-policy-store.ts';
import {
  EMPTY_SNAPSHOT, MAX_DOCUMENT_BYTES, MAX_HISTORY_PAGE, snapshotOf, StoreUnavailableError,
  type HistoryPage, type NewSnapshot, type PolicySnapshot, type PolicyStore, type PutResult, type StoredVersion,
} from './policy-store.ts';

export const DEFAULT_ETCD_PREFIX = '/meshlet/';
const CURRENT = 'policy/current';
const META = 'policy/meta/';
const DOCUMENTS = 'policy/documents/';
const WATCHED = 'policy/';
/** A put that lost the race this often to writers that did not name a version gives up. */
const MAX_FORCED_ATTEMPTS = 5;
/** How soon delivery is tried again after etcd failed to give a version it announced. */
const RETRY_MS = 1_000;


export interface EtcdPolicyStoreOptions {
  readonly client: Etcd3;
  /** Keys live under it; it ends in "/". */
  readonly prefix: string;
  /** Named in errors: "etcd://…". */
  readonly describe: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

export class EtcdPolicyStore implements PolicyStore {
  private readonly ns: Namespace;
  private latest: PolicySnapshot = EMPTY_SNAPSHOT;
  /** The newest version etcd is known to hold: delivery runs up to it. */
  private target = 0;
  /** Parts of versions the watch carried and delivery has not reached yet. */
  private readonly parts = new Map<number, { meta?: StoredVersion; document?: string }>();
  private readonly listeners = new Set<(snapshot: PolicySnapshot) => void>();
  private delivery: Promise<void> = Promise.resolve();
  private watcher: Watcher | undefined;
  private deliveryRetry: TimerHandle | undefined;
  private resyncRetry: TimerHandle | undefined;
  private closed = false;

  private constructor(private readonly options: EtcdPolicyStoreOptions) {
    this.ns = options.client.namespace(options.prefix);
  }

  /** Reads the current version and starts the watch; rejects with StoreUnavailableError when etcd does not answer. */
  static async open(options: EtcdPolicyStoreOptions): Promise<EtcdPolicyStore> {
    const store = new EtcdPolicyStore(options);
    await store.resync();
    return store;
  }

  current(): PolicySnapshot {
    return this.latest;
  }

  /** Reads `current` from etcd (a linearizable read) and delivers up to it first. */
  async fresh(): Promise<PolicySnapshot> {
    const version = await this.readCurrentVersion();
    if (version > this.latest.version) {
      this.target = Math.max(this.target, version);
      await this.deliver();
    }
    return this.latest;
  }

  async get(version: number): Promise<PolicySnapshot | undefined> {
    if (version === this.latest.version) return version === 0 ? undefined : this.latest;
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    return this.read(version);
  }

  async history(before: number, limit: number): Promise<HistoryPage> {
    const count = Math.max(1, Math.min(MAX_HISTORY_PAGE, Math.floor(limit)));
    const range = this.ns.getAll().sort('Key', 'Descend').limit(count);
    if (before > 0) range.inRange({ start: META, end: metaKey(before) });
    else range.prefix(META);
    const response = await this.call('list policy versions', () => range.exec());
    const versions = response.kvs.map((kv) => snapshotOf(parseMeta(kv), ''));
    return { versions, nextBefore: response.more && versions.length > 0 ? versions[versions.length - 1]!.version : 0 };
  }

  async put(next: NewSnapshot, expectedVersion: number | undefined): Promise<PutResult> {
    const document = Buffer.from(next.documentJson, 'utf8');
    if (document.length > MAX_DOCUMENT_BYTES) throw new Error(`the document is ${document.length} bytes; at most ${MAX_DOCUMENT_BYTES}`);
    const sha256 = createHash('sha256').update(document).digest('hex');
    for (let attempt = 1; ; attempt++) {
      const base = expectedVersion ?? await this.readCurrentVersion();
      const meta: StoredVersion = { version: base + 1, createdAtMs: next.createdAtMs, author: next.author.slice(0, MAX_AUTHOR_CHARS), rolledBackFrom: next.rolledBackFrom, bytes: document.length, sha256 };
      const metaJson = JSON.stringify(meta);
      const compare = base === 0 ? this.ns.if(CURRENT, 'Create', '==', 0) : this.ns.if(CURRENT, 'Value', '==', String(base));
      const result = await this.call('store the policy version', () => compare
        .then(this.ns.put(metaKey(meta.version)).value(metaJson), this.ns.put(documentKey(meta.version)).value(document), this.ns.put(CURRENT).value(String(meta.version)))
        .else(this.ns.get(metaKey(meta.version)), this.ns.get(CURRENT))
        .commit());
      const [heldMeta, heldCurrent] = result.succeeded ? [] : result.responses.map((r) => r.response_range.kvs[0]);
      if (result.succeeded || heldMeta?.value.toString() === metaJson) {
        const snapshot = snapshotOf(meta, next.documentJson);
        this.learn(snapshot);
        await this.deliver().catch(() => undefined);
        return { ok: true, snapshot };
      }
      const currentVersion = heldCurrent === undefined ? 0 : Number(heldCurrent.value.toString());
      if (expectedVersion !== undefined || attempt >= MAX_FORCED_ATTEMPTS) return { ok: false, currentVersion };
    }
  }

  watch(listener: (snapshot: PolicySnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    if (this.deliveryRetry) this.options.clock.clearTimeout(this.deliveryRetry);
    if (this.resyncRetry) this.options.clock.clearTimeout(this.resyncRetry);
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.cancel().catch(() => undefined);
    await this.delivery.catch(() => undefined);
  }

  /** Reads `current`, delivers up to it, and watches from the revision it was read at. */
  private async resync(): Promise<void> {
    const response = await this.call('read the current policy version', () => this.ns.get(CURRENT).exec());
    const held = response.kvs[0];
    const version = held === undefined ? 0 : Number(held.value.toString());
    if (this.latest.version === 0 && version > 0 && this.target === 0) {
      // Opening: the newest version is the starting point, not a change to announce.
      const snapshot = await this.read(version);
      if (snapshot === undefined) throw new Error(`${this.options.describe}: ${CURRENT} names version ${version}, which is not stored`);
      this.latest = snapshot;
      this.target = version;
    }
    this.target = Math.max(this.target, version);
    void this.deliver().catch(() => undefined);
    this.startWatch(String(BigInt(response.header.revision) + 1n));
  }

  private startWatch(fromRevision: string): void {
    if (this.closed) return;
    const watcher = this.ns.watch().prefix(WATCHED).startRevision(fromRevision).watcher();
    this.watcher = watcher;
    watcher.on('put', (kv) => this.heard(kv));
    watcher.on('error', (error) => {
      // A cancelled watch (its revision compacted): read the state again and watch from there.
      this.options.logger.warn({ err: error.message }, 'etcd watch of the policy ended; reading the policy again');
      if (this.watcher !== watcher) return;
      this.watcher = undefined;
      void watcher.cancel().catch(() => undefined);
      this.retryResync();
    });
  }

  private retryResync(): void {
    if (this.closed) return;
    this.resync().catch((error: unknown) => {
      this.options.logger.warn({ err: (error as Error).message }, 'etcd unreachable; reading the policy again shortly');
      this.resyncRetry = this.options.clock.setTimeout(() => this.retryResync(), RETRY_MS);
    });
  }

  private heard(kv: IKeyValue): void {
    const key = kv.key.toString();
    if (key === CURRENT) {
      this.target = Math.max(this.target, Number(kv.value.toString()));
      void this.deliver().catch(() => undefined);
      return;
    }
    const version = versionIn(key);
    if (version === undefined || version <= this.latest.version) return;
    const parts = this.parts.get(version) ?? {};
    if (key.startsWith(META)) parts.meta = parseMeta(kv);
    else parts.document = kv.value.toString();
    this.parts.set(version, parts);
  }

  /** A version this replica stored itself: deliverable without reading it back. */
  private learn(snapshot: PolicySnapshot): void {
    if (snapshot.version <= this.latest.version) return;
    this.parts.set(snapshot.version, { meta: metaOf(snapshot), document: snapshot.documentJson });
    this.target = Math.max(this.target, snapshot.version);
  }

  /** Delivers every version after the latest up to the target, in order; one run at a time. */
  private deliver(): Promise<void> {
    const run = this.delivery.then(async () => {
      while (!this.closed && this.latest.version < this.target) {
        const version = this.latest.version + 1;
        const parts = this.parts.get(version);
        const snapshot = parts?.meta !== undefined && parts.document !== undefined ? snapshotOf(parts.meta, parts.document) : await this.read(version);
        if (snapshot === undefined) throw new Error(`${this.options.describe}: version ${version} is announced but not stored`);
        this.parts.delete(version);
        this.latest = snapshot;
        for (const listener of this.listeners) listener(snapshot);
      }
    });
    this.delivery = run.catch((error: unknown) => {
      this.options.logger.warn({ err: (error as Error).message }, 'a policy version could not be read from etcd; trying again');
      if (this.deliveryRetry !== undefined || this.closed) return;
      this.deliveryRetry = this.options.clock.setTimeout(() => {
        this.deliveryRetry = undefined;
        void this.deliver().catch(() => undefined);
      }, RETRY_MS);
    });
    return run;
  }

  private async read(version: number): Promise<PolicySnapshot | undefined> {
    const [meta, document] = await this.call(`read policy version ${version}`, () => Promise.all([
      this.ns.get(metaKey(version)).exec(),
      this.ns.get(documentKey(version)).string(),
    ]));
    const held = meta.kvs[0];
    if (held === undefined || document === null) return undefined;
    const parsed = parseMeta(held);
    const bytes = Buffer.from(document, 'utf8');
    if (bytes.length !== parsed.bytes || createHash('sha256').update(bytes).digest('hex') !== parsed.sha256) {
      throw new Error(`${this.options.describe}: policy version ${version} does not match its recorded length and checksum`);
    }
    return snapshotOf(parsed, document);
  }

  private async readCurrentVersion(): Promise<number> {
    const text = await this.call('read the current policy version', () => this.ns.get(CURRENT).string());
    return text === null ? 0 : Number(text);
  }

  /** One etcd exchange; a failure of etcd itself becomes StoreUnavailableError, naming what and where. */
  private async call<T>(what: string, exchange: () => Promise<T>): Promise<T> {
    try {
      return await exchange();
    } catch (error) {
      throw new StoreUnavailableError(`etcd at ${this.options.describe} could not ${what}: ${(error as Error).message}`);
    }
  }
}

function pad(version: number): string {
  return String(version).padStart(20, '0');
}

function metaKey(version: number): string {
  return `${META}${pad(version)}`;
}

function documentKey(version: number): string {
  return `${DOCUMENTS}${pad(version)}`;
}

function versionIn(key: string): number | undefined {
  const digits = key.startsWith(META) ? key.slice(META.length) : key.startsWith(DOCUMENTS) ? key.slice(DOCUMENTS.length) : '';
  return /^\d{20}$/.test(digits) ? Number(digits) : undefined;
}

function parseMeta(kv: IKeyValue): StoredVersion {
  const value = JSON.parse(kv.value.toString()) as Partial<StoredVersion> | null;
  if (value === null || typeof value !== 'object' || typeof value.version !== 'number' || typeof value.sha256 !== 'string') {
    throw new Error(`${kv.key.toString()}: not the metadata of a policy version`);
  }
  return value as StoredVersion;
}

function metaOf(snapshot: PolicySnapshot): StoredVersion {
  const bytes = Buffer.from(snapshot.documentJson, 'utf8');
  return {
    version: snapshot.version, createdAtMs: snapshot.createdAtMs, author: snapshot.author, rolledBackFrom: snapshot.rolledBackFrom,
    bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

