// The policy store of a single control plane: one file per version under DIR/policy/, named by
// its zero-padded number, each created durably (durable-file.ts) and never rewritten.
//
// Why a file per version rather than an append-only log: a version file is complete or absent
// after a crash, so there is no torn tail to detect and cut, no compaction, and no pointer
// file that could disagree with the data: the current version is simply the highest-numbered
// file. Reading one version for GetPolicy or a rollback is one file read, and a history page
// reads only the first line (the metadata) of each file. Applies are operator actions, so
// even years of them are a few thousand small files.
//
// A file is one JSON line of metadata (with the document's byte count and SHA-256), then the
// document's JSON text. Only the current snapshot and the list of version numbers stay in
// memory; older documents are read from disk when asked for.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createDurably, nodeStoreFs, readHead, TEMP_PREFIX, type StoreFs } from './durable-file.ts';
import {
  EMPTY_SNAPSHOT, MAX_HISTORY_PAGE, snapshotOf,
  type HistoryPage, type NewSnapshot, type PolicySnapshot, type PolicyStore, type PutResult, type StoredVersion,
} from './policy-store.ts';

const FILE_PATTERN = /^v(\d{20})\.json$/;
/** The metadata line is at most this long (the author is capped well below it). */
const MAX_HEADER_BYTES = 8192;
export const MAX_AUTHOR_CHARS = 256;


export class StoreCorruptError extends Error {}

export class FilePolicyStore implements PolicyStore {
  private latest: PolicySnapshot = EMPTY_SNAPSHOT;
  /** Every stored version number, ascending. */
  private versions: number[] = [];
  private readonly listeners = new Set<(snapshot: PolicySnapshot) => void>();
  /** Puts run one at a time, so each compares against the version the previous one made. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly fs: StoreFs,
  ) {}

  /**
   * Opens (creating it if needed) the store under `dataDir`, removing temp files a crash
   * left; rejects with StoreCorruptError if the newest version does not read back whole.
   */
  static async open(dataDir: string, fs: StoreFs = nodeStoreFs): Promise<FilePolicyStore> {
    const store = new FilePolicyStore(join(dataDir, 'policy'), fs);
    await fs.mkdir(store.dir, { recursive: true });
    await store.load();
    return store;
  }

  current(): PolicySnapshot {
    return this.latest;
  }

  /** The only writer is this process, so memory is never behind. */
  async fresh(): Promise<PolicySnapshot> {
    return this.latest;
  }

  async get(version: number): Promise<PolicySnapshot | undefined> {
    if (version === this.latest.version) return version === 0 ? undefined : this.latest;
    if (!this.has(version)) return undefined;
    return this.read(version);
  }

  async history(before: number, limit: number): Promise<HistoryPage> {
    const count = Math.max(1, Math.min(MAX_HISTORY_PAGE, Math.floor(limit)));
    let end = before > 0 ? lowerBound(this.versions, before) : this.versions.length;
    const versions: PolicySnapshot[] = [];
    while (end > 0 && versions.length < count) {
      end--;
      versions.push(snapshotOf(await this.readHeader(this.versions[end]!), ''));
    }
    return { versions, nextBefore: end > 0 ? versions[versions.length - 1]!.version : 0 };
  }

  put(next: NewSnapshot, expectedVersion: number | undefined): Promise<PutResult> {
    const result = this.queue.then(() => this.write(next, expectedVersion));
    this.queue = result.catch(() => undefined);
    return result;
  }

  watch(listener: (snapshot: PolicySnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.queue;
  }

  private async write(next: NewSnapshot, expectedVersion: number | undefined): Promise<PutResult> {
    const current = this.latest.version;
    if (expectedVersion !== undefined && expectedVersion !== current) return { ok: false, currentVersion: current };
    const version = current + 1;
    const document = Buffer.from(next.documentJson, 'utf8');
    const header: StoredVersion = {
      version,
      createdAtMs: next.createdAtMs,
      author: next.author.slice(0, MAX_AUTHOR_CHARS),
      rolledBackFrom: next.rolledBackFrom,
      bytes: document.length,
      sha256: createHash('sha256').update(document).digest('hex'),
    };
    const created = await createDurably(this.fs, this.dir, fileName(version), `${JSON.stringify(header)}\n${next.documentJson}`);
    if (!created) {
      // Another writer took the number (a second process on the same directory): catch up.
      await this.load();
      return { ok: false, currentVersion: this.latest.version };
    }
    this.versions.push(version);
    this.latest = snapshotOf(header, next.documentJson);
    for (const listener of this.listeners) listener(this.latest);
    return { ok: true, snapshot: this.latest };
  }

  private async load(): Promise<void> {
    const names = await this.fs.readdir(this.dir);
    const versions: number[] = [];
    for (const name of names) {
      if (name.startsWith(TEMP_PREFIX)) {
        await this.fs.unlink(join(this.dir, name));
        continue;
      }
      const match = FILE_PATTERN.exec(name);
      if (match) versions.push(Number(match[1]));
    }
    versions.sort((a, b) => a - b);
    this.versions = versions;
    const newest = versions[versions.length - 1];
    this.latest = newest === undefined ? EMPTY_SNAPSHOT : await this.read(newest);
  }

  private has(version: number): boolean {
    const at = lowerBound(this.versions, version);
    return this.versions[at] === version;
  }

  private async read(version: number): Promise<PolicySnapshot> {
    const path = join(this.dir, fileName(version));
    const text = await this.fs.readFile(path, 'utf8');
    const newline = text.indexOf('\n');
    const header = parseHeader(newline < 0 ? text : text.slice(0, newline), path);
    const document = Buffer.from(text.slice(newline + 1), 'utf8');
    if (header.version !== version || document.length !== header.bytes || createHash('sha256').update(document).digest('hex') !== header.sha256) {
      throw new StoreCorruptError(`${path}: the document does not match its recorded length and checksum`);
    }
    return snapshotOf(header, text.slice(newline + 1));
  }

  private async readHeader(version: number): Promise<StoredVersion> {
    const path = join(this.dir, fileName(version));
    const head = (await readHead(this.fs, path, MAX_HEADER_BYTES)).toString('utf8');
    const newline = head.indexOf('\n');
    return parseHeader(newline < 0 ? head : head.slice(0, newline), path);
  }
}

function fileName(version: number): string {
  return `v${String(version).padStart(20, '0')}.json`;
}

function parseHeader(line: string, path: string): StoredVersion {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new StoreCorruptError(`${path}: the metadata line is not JSON`);
  }
  const header = value as Partial<StoredVersion> | null;
  if (
    header === null || typeof header !== 'object' || typeof header.version !== 'number' || typeof header.createdAtMs !== 'number'
    || typeof header.author !== 'string' || typeof header.rolledBackFrom !== 'number' || typeof header.bytes !== 'number' || typeof header.sha256 !== 'string'
  ) {
    throw new StoreCorruptError(`${path}: the metadata line lacks a field`);
  }
  return header as StoredVersion;
}


/** The index of the first element ≥ value in an ascending array. */
function lowerBound(values: readonly number[], value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (values[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
