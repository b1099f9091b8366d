// The last snapshot an agent acknowledged, kept on disk so that an agent (re)started while the
// control plane is down comes up on the policy it last ran. Written whole or not at all: a temp
// file, fsync, rename over the old one, fsync of the folder. Read back only if it is exactly what
// was written (a SHA-256 of the document is kept with it); anything else is refused with a reason.
import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface CachedPolicy {
  readonly version: number;
  readonly documentJson: string;
  /** When the control plane stored it (ms since the epoch). */
  readonly createdAtMs: number;
}

const FORMAT = 1;
/** A policy document is far smaller; a file past this is not a cache this agent wrote. */
const MAX_CACHE_BYTES = 8 * 1024 * 1024;

export type CacheRead =
  | { readonly ok: true; readonly policy: CachedPolicy }
  | { readonly ok: false; readonly missing: true }
  | { readonly ok: false; readonly missing: false; readonly reason: string };

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

export async function readPolicyCache(path: string): Promise<CacheRead> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > MAX_CACHE_BYTES) return { ok: false, missing: false, reason: `${size} bytes, more than a cache holds` };
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, missing: true };
    return { ok: false, missing: false, reason: (err as Error).message };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, missing: false, reason: 'not JSON' };
  }
  const entry = value as Partial<Record<'format' | 'version' | 'documentJson' | 'createdAtMs' | 'sha256', unknown>> | null;
  if (typeof entry !== 'object' || entry === null || entry.format !== FORMAT) return { ok: false, missing: false, reason: `not a format-${FORMAT} policy cache` };
  const { version, documentJson, createdAtMs, sha256 } = entry;
  if (!Number.isSafeInteger(version) || (version as number) < 0 || typeof documentJson !== 'string' || typeof createdAtMs !== 'number') {
    return { ok: false, missing: false, reason: 'fields missing or of the wrong type' };
  }
  if (sha256 !== digest(documentJson)) return { ok: false, missing: false, reason: 'the document does not match its checksum' };
  return { ok: true, policy: { version: version as number, documentJson, createdAtMs } };
}

export async function writePolicyCache(path: string, policy: CachedPolicy): Promise<void> {
  const text = JSON.stringify({ format: FORMAT, ...policy, sha256: digest(policy.documentJson) });
  const temp = `${path}.${process.pid}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  // The rename itself is durable only once the folder's entry is.
  const folder = await open(dirname(path), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
