// Where the control plane keeps policy versions. The server talks only to this interface, so
// the file store (one replica) and a replicated store (etcd, later) are interchangeable: a
// put is a compare-and-set on the current version that resolves only once the version is
// durable, and every replica learns of new versions through watch(), not through its own puts.
import type { PolicySnapshot } from './control-proto.ts';

export type { PolicySnapshot } from './control-proto.ts';

/** A policy document as JSON text is at most this long. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
/** history() lists at most this many versions at once. */
export const MAX_HISTORY_PAGE = 500;

/** The store could not be reached (etcd down or partitioned): nothing was changed, try again later. */
export class StoreUnavailableError extends Error {}

export interface NewSnapshot {
  readonly documentJson: string;
  readonly author: string;
  /** For a rollback: the version whose document this one repeats; 0 otherwise. */
  readonly rolledBackFrom: number;
  /** Wall-clock milliseconds since the epoch. */
  readonly createdAtMs: number;
}

export type PutResult =
  | { readonly ok: true; readonly snapshot: PolicySnapshot }
  /** The current version was not the expected one; nothing was stored. */
  | { readonly ok: false; readonly currentVersion: number };

export interface HistoryPage {
  /** Newest first, without their documents (documentJson is ""). */
  readonly versions: readonly PolicySnapshot[];
  /** The before-version of the next page; 0 on the last page. */
  readonly nextBefore: number;
}

export interface PolicyStore {
  /** The newest version; version 0 (and an empty document) before the first put. */
  current(): PolicySnapshot;
  /**
   * The newest version as of this call: for a replicated store, a version another replica
   * stored a moment ago is included (current() may not have heard of it yet). Operations that
   * compare against the current version start from this.
   */
  fresh(): Promise<PolicySnapshot>;
  /** A stored version, or undefined when there is none of that number. */
  get(version: number): Promise<PolicySnapshot | undefined>;
  /** Versions below `before` (0: from the newest), newest first, at most `limit` (capped at MAX_HISTORY_PAGE). */
  history(before: number, limit: number): Promise<HistoryPage>;
  /**
   * Stores `next` as version current+1 if the current version is `expectedVersion`
   * (undefined: whatever it is). Resolves once the new version survives a crash; rejects
   * when it could not be made durable (then it is not current).
   */
  put(next: NewSnapshot, expectedVersion: number | undefined): Promise<PutResult>;
  /** Calls `listener` with every new current version, in order; returns the unsubscribe. */
  watch(listener: (snapshot: PolicySnapshot) => void): () => void;
  close(): Promise<void>;
}

export const EMPTY_SNAPSHOT: PolicySnapshot = Object.freeze({ version: 0, documentJson: '', createdAtMs: 0, author: '', rolledBackFrom: 0 });

/** What a store keeps of a version beside its document: the document's length and SHA-256 guard it. */
export interface StoredVersion {
  readonly version: number;
  readonly createdAtMs: number;
  readonly author: string;
  readonly rolledBackFrom: number;
  readonly bytes: number;
  readonly sha256: string;
}

export function snapshotOf(stored: StoredVersion, documentJson: string): PolicySnapshot {
  return { version: stored.version, documentJson, createdAtMs: stored.createdAtMs, author: stored.author, rolledBackFrom: stored.rolledBackFrom };
}
