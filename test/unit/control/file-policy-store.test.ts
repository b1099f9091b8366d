import * as fsPromises from 'node:fs/promises';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoreFile, StoreFs } from '../../../src/control/durable-file.ts';
import { FilePolicyStore, StoreCorruptError } from '../../../src/control/file-policy-store.ts';
import type { NewSnapshot } from '../../../src/control/policy-store.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshlet-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const doc = (timeout: string): NewSnapshot => ({ documentJson: JSON.stringify({ upstreams: { payments: { timeout } } }), author: 'ops', rolledBackFrom: 0, createdAtMs: 1_700_000_000_000 });

/** The real file system, with the chosen step failing from the moment `failing` is set. */
function faultyFs(step: 'sync' | 'link' | 'dirsync' | 'write'): { fs: StoreFs; arm(): void; calls: string[] } {
  let armed = false;
  const calls: string[] = [];
  const fs: StoreFs = {
    ...fsPromises,
    link: async (a, b) => {
      calls.push('link');
      if (armed && step === 'link') throw Object.assign(new Error('EIO: link'), { code: 'EIO' });
      return fsPromises.link(a, b);
    },
    open: async (path, flags) => {
      const handle = await fsPromises.open(path, flags);
      const isDir = flags === 'r' && path === join(dir, 'policy');
      const file: StoreFile = {
        writeFile: async (data) => {
          if (armed && step === 'write') throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          return handle.writeFile(data);
        },
        read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
        sync: async () => {
          calls.push(isDir ? 'dirsync' : 'sync');
          if (armed && (isDir ? step === 'dirsync' : step === 'sync')) throw Object.assign(new Error('EIO: fsync'), { code: 'EIO' });
          return handle.sync();
        },
        close: () => handle.close(),
      };
      return file;
    },
  };
  return { fs, arm: () => (armed = true), calls };
}

describe('file policy store', () => {
  it('starts empty, stores versions 1, 2, 3 and reads every one back after reopening', async () => {
    const store = await FilePolicyStore.open(dir);
    expect(store.current().version).toBe(0);
    for (const [i, t] of ['1s', '2s', '3s'].entries()) {
      const result = await store.put(doc(t), i);
      expect(result).toMatchObject({ ok: true, snapshot: { version: i + 1 } });
    }
    await store.close();
    const reopened = await FilePolicyStore.open(dir);
    expect(reopened.current()).toMatchObject({ version: 3, documentJson: doc('3s').documentJson, author: 'ops', createdAtMs: 1_700_000_000_000 });
    expect((await reopened.get(1))?.documentJson).toBe(doc('1s').documentJson);
    expect(await reopened.get(4)).toBeUndefined();
    expect(await reopened.get(0)).toBeUndefined();
  });

  it('refuses a put based on another version and stores nothing', async () => {
    const store = await FilePolicyStore.open(dir);
    await store.put(doc('1s'), 0);
    expect(await store.put(doc('2s'), 0)).toEqual({ ok: false, currentVersion: 1 });
    expect(store.current().version).toBe(1);
    expect((await readdir(join(dir, 'policy'))).length).toBe(1);
    expect(await store.put(doc('2s'), undefined)).toMatchObject({ ok: true, snapshot: { version: 2 } });
  });

  it('runs concurrent puts one after another: of two based on the same version, one wins', async () => {
    const store = await FilePolicyStore.open(dir);
    const results = await Promise.all([store.put(doc('1s'), 0), store.put(doc('2s'), 0)]);
    expect(results.map((r) => r.ok)).toEqual([true, false]);
  });

  it('fsyncs the file before linking it and the directory before resolving', async () => {
    const faulty = faultyFs('sync');
    const store = await FilePolicyStore.open(dir, faulty.fs);
    await store.put(doc('1s'), 0);
    expect(faulty.calls).toEqual(['sync', 'link', 'dirsync']);
  });

  for (const step of ['write', 'sync', 'link', 'dirsync'] as const) {
    it(`rejects a put whose ${step} fails, keeps the old version current and on disk, leaves no file`, async () => {
      const faulty = faultyFs(step);
      const store = await FilePolicyStore.open(dir, faulty.fs);
      await store.put(doc('1s'), 0);
      const seen: number[] = [];
      store.watch((s) => seen.push(s.version));
      faulty.arm();
      await expect(store.put(doc('2s'), 1)).rejects.toThrow(/E(IO|NOSPC)/);
      expect(store.current().version).toBe(1);
      expect(seen).toEqual([]);
      expect(await readdir(join(dir, 'policy'))).toEqual(['v00000000000000000001.json']);
      const reopened = await FilePolicyStore.open(dir);
      expect(reopened.current().version).toBe(1);
    });
  }

  it('removes temp files a crash left and ignores them as versions', async () => {
    const store = await FilePolicyStore.open(dir);
    await store.put(doc('1s'), 0);
    await writeFile(join(dir, 'policy', '.tmp-123-0-v00000000000000000002.json'), '{"version":2, torn');
    const reopened = await FilePolicyStore.open(dir);
    expect(reopened.current().version).toBe(1);
    expect(await readdir(join(dir, 'policy'))).toEqual(['v00000000000000000001.json']);
  });

  it('refuses to open when the newest version does not match its checksum', async () => {
    const store = await FilePolicyStore.open(dir);
    await store.put(doc('1s'), 0);
    const path = join(dir, 'policy', 'v00000000000000000001.json');
    const text = await fsPromises.readFile(path, 'utf8');
    await writeFile(path, text.replace('1s', '9s'));
    await expect(FilePolicyStore.open(dir)).rejects.toBeInstanceOf(StoreCorruptError);
  });

  it('tells watchers of each new version in order', async () => {
    const store = await FilePolicyStore.open(dir);
    const seen: number[] = [];
    const stop = store.watch((s) => seen.push(s.version));
    await store.put(doc('1s'), 0);
    await store.put(doc('2s'), 1);
    stop();
    await store.put(doc('3s'), 2);
    expect(seen).toEqual([1, 2]);
  });

  it('lists history newest first in pages, without documents', async () => {
    const store = await FilePolicyStore.open(dir);
    for (let i = 0; i < 7; i++) await store.put({ ...doc(`${i + 1}s`), rolledBackFrom: i === 6 ? 2 : 0 }, i);
    const first = await store.history(0, 3);
    expect(first.versions.map((v) => v.version)).toEqual([7, 6, 5]);
    expect(first.versions[0]).toMatchObject({ documentJson: '', author: 'ops', rolledBackFrom: 2 });
    const second = await store.history(first.nextBefore, 3);
    expect(second.versions.map((v) => v.version)).toEqual([4, 3, 2]);
    const last = await store.history(second.nextBefore, 3);
    expect(last).toEqual({ versions: [expect.objectContaining({ version: 1 })], nextBefore: 0 });
    expect((await store.history(0, 10_000)).versions.length).toBe(7);
  });
});
