// One `meshlet control` per data directory: DIR/control.lock holds the PID of the process that
// owns the directory. Two servers on one directory would both push and would race for version
// numbers (the store's link() catches the collision, but the loser's agents would already have
// been sent a version that never existed), so the second one refuses to start.
//
// A lock whose PID is no longer running is stale (the holder was killed with -9 or the machine
// lost power) and is taken over. The file also records when that process started (Linux's
// /proc/PID/stat), so a PID the kernel has since given to another process (a container
// restarted on the same volume) does not keep the directory locked. Taking over renames the stale file away first and checks that
// what it moved is still the stale content, so two servers starting at once on a stale lock
// cannot both win: only one rename succeeds, and a fresh lock moved by mistake is put back.
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_FILE = 'control.lock';

export class DataDirLockedError extends Error {
  constructor(readonly dir: string, readonly holderPid: number) {
    super(`the data directory ${dir} is in use by another meshlet control (PID ${holderPid}); stop it or give this one another --data`);
  }
}

export class DataDirLock {
  private released = false;

  private constructor(private readonly path: string, private readonly content: string) {}

  /** Takes the lock on `dir` (which must exist) or rejects with DataDirLockedError. */
  static async acquire(dir: string): Promise<DataDirLock> {
    const path = join(dir, LOCK_FILE);
    const content = `${process.pid}\n${startTimeOf(process.pid) ?? ''}\n`;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await createExclusive(path, content)) return new DataDirLock(path, content);
      const held = await readFile(path, 'utf8').catch(() => undefined);
      if (held === undefined) continue; // released between the two calls
      const [pid, startTime] = parseHolder(held);
      if (pid !== undefined && pid !== process.pid && isRunning(pid) && (startTime === undefined || startTime === startTimeOf(pid))) {
        throw new DataDirLockedError(dir, pid);
      }
      await removeStale(path, held);
    }
    throw new Error(`${path}: could not take the lock (it keeps changing)`);
  }

  /** Removes the lock file if it is still this process's. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const held = await readFile(this.path, 'utf8').catch(() => undefined);
    if (held === this.content) await unlink(this.path).catch(() => undefined);
  }
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

async function removeStale(path: string, staleContent: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // another starter moved it
    throw error;
  }
  const moved = await readFile(aside, 'utf8');
  // link() never overwrites: if yet another process took the lock meanwhile, its lock stands.
  if (moved !== staleContent) await link(aside, path).catch(() => undefined);
  await unlink(aside);
}

/** The holder's PID and, when it was recorded, its start time. */
function parseHolder(text: string): [number | undefined, string | undefined] {
  const [pidText = '', startTime = ''] = text.split('\n');
  const pid = Number(pidText.trim());
  return [Number.isInteger(pid) && pid > 0 ? pid : undefined, startTime.trim() === '' ? undefined : startTime.trim()];
}

/**
 * When a process started, in clock ticks since boot (field 22 of /proc/PID/stat, counted after
 * the parenthesized command name, which may itself hold spaces); undefined without /proc.
 */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Signal 0 checks without sending: EPERM means it runs under another user. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
