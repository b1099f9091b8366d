// Creating a file so that after a crash (kill -9, power loss) it either exists whole or not at
// all: write a temp file, fsync it, hard-link it to its name (which fails if the name is taken,
// so a version is never overwritten), drop the temp name, fsync the directory so the new entry
// itself is on disk. The file system calls come in through StoreFs so tests can fail any step.
import * as fsPromises from 'node:fs/promises';
import { join } from 'node:path';

export interface StoreFile {
  writeFile(data: string): Promise<void>;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreFs {
  open(path: string, flags: string): Promise<StoreFile>;
  link(existingPath: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  mkdir(path: string, options: { recursive: true }): Promise<string | undefined>;
}

export const nodeStoreFs: StoreFs = fsPromises;

/** Names that createDurably leaves behind only when the process died mid-write. */
export const TEMP_PREFIX = '.tmp-';
let tempCounter = 0;

/**
 * Creates `dir/name` with `data`, durably; resolves false (and writes nothing) when the name
 * already exists. Rejects when any step fails, after removing what it wrote.
 */
export async function createDurably(fs: StoreFs, dir: string, name: string, data: string): Promise<boolean> {
  const temp = join(dir, `${TEMP_PREFIX}${process.pid}-${tempCounter++}-${name}`);
  const target = join(dir, name);
  let linked = false;
  try {
    const file = await fs.open(temp, 'wx');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await fs.link(temp, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    linked = true;
    await fs.unlink(temp);
    await syncDirectory(fs, dir);
    return true;
  } catch (error) {
    // Not acknowledged, so it must not come back after a restart either.
    if (linked) await fs.unlink(target).catch(() => undefined);
    throw error;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
}

/** fsync of a directory: makes the entries created in it durable. */
export async function syncDirectory(fs: StoreFs, dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The first `length` bytes of a file (fewer if it is shorter). */
export async function readHead(fs: StoreFs, path: string, length: number): Promise<Buffer> {
  const handle = await fs.open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
