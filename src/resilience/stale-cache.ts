// stale-if-error (RFC 5861's idea, on the agent's policy rather than the response's): the last
// good answer to each GET is kept, bounded in entries and bytes and evicted least recently used
// first, so that when a call to it fails the client gets that answer, marked stale, instead of
// an error. A Map keeps insertion order, which is the LRU order once a use re-inserts its key.

import type { OutgoingHttpHeaders } from 'node:http';
import type { Clock } from '../clock.ts';
import type { StaleIfErrorConfig } from '../config/types.ts';

/** A kept response is replaced by a newer good one at most this often, so a hot GET is not copied on every call. */
export const STALE_REFRESH_MS = 1000;

/** What a kept entry costs besides its body: its key and headers, counted once when stored. */
const ENTRY_OVERHEAD = 64;

export interface StaleEntry {
  /** End-to-end headers of the kept 200, without content-length (the body says it). */
  readonly headers: Readonly<OutgoingHttpHeaders>;
  readonly body: Buffer;
  readonly storedAt: number;
  /** The response's own `age` when it arrived, seconds. */
  readonly ageAtStore: number;
  /** What the entry counts against maxBytes. */
  readonly bytes: number;
}

export class StaleCache {
  private readonly entries = new Map<string, StaleEntry>();
  private heldBytes = 0;

  constructor(
    private readonly clock: Clock,
    readonly limits: StaleIfErrorConfig,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Whether a good response to `key` is worth copying now: none is kept, or the kept one is due for a refresh. */
  wants(key: string): boolean {
    const entry = this.entries.get(key);
    return entry === undefined || this.clock.now() - entry.storedAt >= STALE_REFRESH_MS;
  }

  /** Keeps `body` (the cache's own copy) as the answer to `key`, evicting the least recently used past the bounds. */
  store(key: string, headers: OutgoingHttpHeaders, body: Buffer, ageAtStore: number): void {
    const { maxEntryBytes, maxEntries, maxBytes } = this.limits;
    if (body.length > maxEntryBytes) return;
    const bytes = body.length + key.length + headerBytes(headers) + ENTRY_OVERHEAD;
    if (bytes > maxBytes) return;
    this.remove(key);
    this.entries.set(key, { headers, body, storedAt: this.clock.now(), ageAtStore, bytes });
    this.heldBytes += bytes;
    for (const [oldest] of this.entries) {
      if (this.entries.size <= maxEntries && this.heldBytes <= maxBytes) break;
      this.remove(oldest);
    }
  }

  /** The response kept for `key` if it is no older than maxAge (and now the most recently used). */
  take(key: string): StaleEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.clock.now() - entry.storedAt > this.limits.maxAge) {
      this.remove(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  /** Whole seconds since `entry` was kept. */
  ageSeconds(entry: StaleEntry): number {
    return Math.floor((this.clock.now() - entry.storedAt) / 1000);
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.heldBytes -= entry.bytes;
  }
}

function headerBytes(headers: OutgoingHttpHeaders): number {
  let n = 0;
  for (const name in headers) n += name.length + String(headers[name]).length + 4;
  return n;
}
