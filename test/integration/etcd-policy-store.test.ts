// EtcdPolicyStore against real etcd members on loopback (test/helpers/etcd-cluster.ts): the
// compare-and-set, two replicas' watches (every version, in order, once), a replica whose etcd
// member was down catching up, and a put while etcd is down failing with nothing written.
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { createEtcdClient } from '../../src/control/etcd-connection.ts';
import { EtcdPolicyStore } from '../../src/control/etcd-policy-store.ts';
import { StoreUnavailableError, type NewSnapshot, type PolicySnapshot } from '../../src/control/policy-store.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { EtcdCluster } from '../helpers/etcd-cluster.ts';
import { until } from '../helpers/until.ts';

const logger = createLogger({ level: 'silent', name: 'test' });
const doc = (timeout: string): NewSnapshot => ({ documentJson: JSON.stringify({ upstreams: { payments: { timeout } } }), author: 'ops', rolledBackFrom: 0, createdAtMs: 1_700_000_000_000 });

describe('EtcdPolicyStore on three real etcd members', () => {
  let cluster: EtcdCluster;
  const clients: Etcd3[] = [];
  const stores: EtcdPolicyStore[] = [];
  let prefixes = 0;

  beforeAll(async () => {
    cluster = await EtcdCluster.start(3);
  }, 60_000);

  afterAll(async () => {
    for (const store of stores) await store.close();
    for (const client of clients) client.close();
    await cluster?.stop();
  });

  /** A store on its own prefix (or `prefix`), through `members` (default: all). */
  async function open(prefix: string, members = cluster.endpoints): Promise<EtcdPolicyStore> {
    const client = createEtcdClient({ members, wallNow: Date.now });
    clients.push(client);
    const store = await EtcdPolicyStore.open({ client, prefix, describe: `etcd://${members.join(',')}`, clock: systemClock, logger });
    stores.push(store);
    return store;
  }
  const freshPrefix = (): string => `/test-${++prefixes}/`;

  it('stores versions by compare-and-set: a stale expected version changes nothing', async () => {
    const store = await open(freshPrefix());
    expect(store.current().version).toBe(0);
    const first = await store.put(doc('1s'), 0);
    expect(first).toMatchObject({ ok: true, snapshot: { version: 1 } });
    expect(await store.put(doc('2s'), 1)).toMatchObject({ ok: true, snapshot: { version: 2 } });
    expect(await store.put(doc('3s'), 1)).toEqual({ ok: false, currentVersion: 2 });
    expect(await store.put(doc('3s'), undefined)).toMatchObject({ ok: true, snapshot: { version: 3 } });
    expect(store.current()).toMatchObject({ version: 3, documentJson: doc('3s').documentJson, author: 'ops' });
    expect((await store.get(1))?.documentJson).toBe(doc('1s').documentJson);
    expect(await store.get(4)).toBeUndefined();
    const page = await store.history(0, 2);
    expect(page.versions.map((v) => v.version)).toEqual([3, 2]);
    expect(page.versions[0]!.documentJson).toBe('');
    expect(page.nextBefore).toBe(2);
    expect((await store.history(page.nextBefore, 2)).versions.map((v) => v.version)).toEqual([1]);
  });

  it('delivers every version to every replica in order, exactly once, when two replicas race', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(prefix), await open(prefix)];
    const seen: Record<'a' | 'b', number[]> = { a: [], b: [] };
    a.watch((s) => seen.a.push(s.version));
    b.watch((s) => seen.b.push(s.version));
    const won: number[] = [];
    // Each replica applies on top of what it knows; a lost race is retried on the newer version.
    const writer = async (store: EtcdPolicyStore, name: string): Promise<void> => {
      for (let i = 0; i < 10; i++) {
        for (;;) {
          const result = await store.put(doc(`${name}${i}`), store.current().version);
          if (result.ok) {
            won.push(result.snapshot.version);
            break;
          }
          await until(async () => store.current().version >= result.currentVersion, 10_000, 'the watch catches up');
        }
      }
    };
    await Promise.all([writer(a, 'a'), writer(b, 'b')]);
    expect([...won].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await until(async () => seen.a.length >= 20 && seen.b.length >= 20, 10_000, 'both replicas saw 20 versions');
    expect(seen.a).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(seen.b).toEqual(seen.a);
  });

  it('catches up after its etcd member was down: the versions it missed, in order, none twice', async () => {
    const prefix = freshPrefix();
    const writer = await open(prefix, cluster.endpoints.slice(1));
    const reader = await open(prefix, cluster.endpoints.slice(0, 1));
    const seen: PolicySnapshot[] = [];
    reader.watch((s) => seen.push(s));
    expect(await writer.put(doc('1s'), 0)).toMatchObject({ ok: true });
    await until(async () => seen.length === 1, 10_000, 'the reader saw version 1');
    await cluster.kill(0);
    for (let v = 1; v <= 3; v++) expect(await writer.put(doc(`${v + 1}s`), v)).toMatchObject({ ok: true });
    await cluster.restart(0);
    await until(async () => seen.length >= 4, 20_000, 'the reader caught up to version 4');
    expect(seen.map((s) => s.version)).toEqual([1, 2, 3, 4]);
    expect(seen[3]!.documentJson).toBe(doc('4s').documentJson);
    expect(reader.current().version).toBe(4);
  }, 60_000);

  it('fails a put cleanly while etcd is down, and stores nothing of it', async () => {
    const store = await open(freshPrefix());
    expect(await store.put(doc('1s'), 0)).toMatchObject({ ok: true });
    for (let i = 0; i < 3; i++) await cluster.kill(i);
    const failed = await store.put(doc('2s'), 1).then(() => undefined, (error: unknown) => error);
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    expect((failed as Error).message).toContain('etcd at etcd://');
    expect(store.current().version).toBe(1);
    await Promise.all([0, 1, 2].map((i) => cluster.restart(i)));
    const history = await until(async () => (await store.history(0, 10).catch(() => undefined)) !== undefined, 20_000, 'etcd answers again')
      .then(() => store.history(0, 10));
    expect(history.versions.map((v) => v.version)).toEqual([1]);
    expect(await store.put(doc('2s'), 1)).toMatchObject({ ok: true, snapshot: { version: 2 } });
  }, 60_000);
});
