import { Logger } from '@nestjs/common';
import { type RoomUri, type UserUri } from '../../src/common/ids';
import { validateConfig } from '../../src/config/load-config';
import { groupIdForRoom } from '../../src/mls';
import { TransactionRunner } from '../../src/persistence';
import { MlsKvRepository } from '../../src/persistence/repositories/mls-kv.repository';
import { FakeClock } from '../support/fake-clock';
import { DATABASE_KINDS, type TestDataSource, createTestDataSource } from '../support/test-data-source';
import { DbMlsStorage } from '../../src/persistence/db-mls-storage';
import { MlsGroups } from '../../src/rooms/mls-groups';
import { IdleUnload } from '../../src/rooms/idle-unload';
import { MetricsRegistry } from '../../src/common/metrics';
import { RoomTransactions } from '../../src/persistence/room-transactions';

const DOMAIN = 'gw.test';
const ROOM: RoomUri = 'mimi://gw.test/r/storage' as RoomUri;
const KEY = 'mls/group/x/y';
const VALUE = new Uint8Array([1, 2, 3]);
const OTHER_VALUE = new Uint8Array([9]);
const BOOM = new Error('boom');
const TEST_NOW = 1_800_000_000_000;

beforeAll(() => Logger.overrideLogger(['error']));

/** The value of one series (name with labels, as rendered) in the registry's exposition. */
async function metricValue(metrics: MetricsRegistry, series: string): Promise<number | undefined> {
  const line = (await metrics.render()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.each(DATABASE_KINDS)('DbMlsStorage on %s', (kind) => {
  let dataSource: TestDataSource;
  let transactions: RoomTransactions;
  let storage: DbMlsStorage;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    const runner = new TransactionRunner(dataSource);
    transactions = new RoomTransactions(runner);
    storage = new DbMlsStorage(new MlsKvRepository(runner, new FakeClock(TEST_NOW)), transactions);
  });

  afterEach(async () => dataSource.destroy());

  it('stores, replaces, lists and deletes values outside any transaction', async () => {
    await storage.put(KEY, VALUE);
    await storage.put(KEY, OTHER_VALUE);
    expect(await storage.get(KEY)).toEqual(OTHER_VALUE);
    expect(await storage.list('mls/group/')).toEqual([KEY]);
    await storage.delete(KEY);
    expect(await storage.get(KEY)).toBeUndefined();
  });

  it('matches list prefixes literally (no LIKE wildcards)', async () => {
    await storage.put('mls/kp/a%_/1', VALUE);
    await storage.put('mls/kp/abc/1', VALUE);
    expect(await storage.list('mls/kp/a%_')).toEqual(['mls/kp/a%_/1']);
  });

  it('reads every row under a prefix with its value in one call (getAll), prefixes matched literally', async () => {
    await storage.put('mls/kp/a%_/1', VALUE);
    await storage.put('mls/kp/a%_/2', OTHER_VALUE);
    await storage.put('mls/kp/abc/1', VALUE);
    expect(await storage.getAll('mls/kp/a%_/')).toEqual([
      ['mls/kp/a%_/1', VALUE],
      ['mls/kp/a%_/2', OTHER_VALUE],
    ]);
    await transactions.run(async () => {
      await storage.put('mls/kp/a%_/3', VALUE);
      expect((await storage.getAll('mls/kp/a%_/')).map(([k]) => k)).toContain('mls/kp/a%_/3');
    });
  });

  it('lists exactly the keys under a prefix, bytewise, next to keys that sort close to it', async () => {
    const keys = ['g/ab', 'g/ab/1', 'g/ab/~', 'g/abc', 'g/ab0', 'g/ac', 'g/aa/z', 'g/Ab/1', 'g/ab\u00e9', 'g/a'];
    for (const key of keys) await storage.put(key, VALUE);
    expect(await storage.list('g/ab/')).toEqual(['g/ab/1', 'g/ab/~']);
    expect(await storage.list('g/ab')).toEqual(['g/ab', 'g/ab/1', 'g/ab/~', 'g/ab0', 'g/abc', 'g/ab\u00e9']);
    expect((await storage.getAll('g/a')).map(([k]) => k)).toEqual([...keys].filter((k) => k.startsWith('g/a')).sort());
    expect(await storage.list('g/ab\u00e9')).toEqual(['g/ab\u00e9']);
  });

  it('writes into the ambient transaction: committed with it', async () => {
    await transactions.run(async () => {
      await storage.put(KEY, VALUE);
      expect(await storage.get(KEY)).toEqual(VALUE);
    });
    expect(await storage.get(KEY)).toEqual(VALUE);
  });

  it('rolls back with the ambient transaction and reports the keys it touched', async () => {
    const reported: string[][] = [];
    transactions.onRollback((keys) => reported.push([...keys]));

    await expect(
      transactions.run(async () => {
        await storage.put(KEY, VALUE);
        throw BOOM;
      }),
    ).rejects.toBe(BOOM);

    expect(await storage.get(KEY)).toBeUndefined();
    expect(reported).toEqual([[KEY]]);
  });

  describe(MlsGroups.name, () => {
    const config = validateConfig({ provider: { domain: DOMAIN } }, { baseDir: '/', env: {} });

    it('drops a group whose state was rolled back and reloads it from the database', async () => {
      const groups = new MlsGroups(config, storage, transactions, new FakeClock(TEST_NOW));
      const hub = await groups.hub();

      await expect(
        transactions.run(async () => {
          await groups.store.createGroup({
            groupId: groupIdForRoom(ROOM),
            creator: groups.botUser,
            hub: hub.externalSender,
            participants: [{ user: groups.botUser, roleIndex: 6 }],
          });
          expect(await groups.isActive(ROOM, groups.botUser)).toBe(true);
          throw BOOM;
        }),
      ).rejects.toBe(BOOM);

      expect(await groups.group(ROOM)).toBeUndefined();
    });

    it('unloads idle groups and puppets on the sweep, never state of a transaction still open', async () => {
      const idleConfig = validateConfig(
        { provider: { domain: DOMAIN }, mls: { idleUnloadSeconds: 300 } },
        { baseDir: '/', env: {} },
      );
      const clock = new FakeClock(TEST_NOW);
      const metrics = new MetricsRegistry();
      const groups = new MlsGroups(idleConfig, storage, transactions, clock, metrics);
      const sweeper = new IdleUnload(idleConfig, groups, metrics);
      const hub = await groups.hub();
      const puppet = `mimi://${DOMAIN}/u/memory:alice` as UserUri;
      const create = () =>
        groups.store.createGroup({
          groupId: groupIdForRoom(ROOM),
          creator: puppet,
          hub: hub.externalSender,
          participants: [{ user: puppet, roleIndex: 6 }],
        });

      let release: (() => void) | undefined;
      const open = transactions.run(async () => {
        await create();
        await new Promise<void>((resolve) => (release = resolve));
      });
      while (release === undefined) await new Promise((r) => setImmediate(r));
      clock.advance(301_000);
      expect(sweeper.sweep()).toEqual({ groups: 0, identities: 0 });
      expect(await metricValue(metrics, 'mimi_mls_groups_loaded')).toBe(1);
      release();
      await open;

      expect(sweeper.sweep()).toEqual({ groups: 1, identities: 1 });
      expect(await metricValue(metrics, 'mimi_mls_groups_loaded')).toBe(0);
      expect(await metricValue(metrics, 'mimi_mls_identities_cached')).toBe(0);
      expect(await metricValue(metrics, 'mimi_mls_idle_unloaded_total{kind="group"}')).toBe(1);
      expect(await metricValue(metrics, 'mimi_mls_idle_unloaded_total{kind="identity"}')).toBe(1);

      // Used again: read back from the database (the same puppet key), and kept while in use.
      const group = await groups.requireGroup(ROOM);
      expect(group.isLocalMember(puppet)).toBe(true);
      expect(await transactions.run(() => group.encrypt(puppet, new Uint8Array([1])))).toBeInstanceOf(Uint8Array);
      clock.advance(299_000);
      expect(sweeper.sweep().groups).toBe(0);
      expect(await metricValue(metrics, 'mimi_mls_groups_loaded')).toBe(1);
    });

    it('keeps one external-sender key for the provider across restarts', async () => {
      const first = await new MlsGroups(config, storage, transactions, new FakeClock(TEST_NOW)).hub();
      const second = await new MlsGroups(config, storage, transactions, new FakeClock(TEST_NOW)).hub();
      expect(second.signaturePublicKey).toEqual(first.signaturePublicKey);
      expect(first.domain).toBe(DOMAIN);
    });

    it('gives the same identity for the same user across instances', async () => {
      const user = `mimi://${DOMAIN}/u/memory:alice` as UserUri;
      const first = await new MlsGroups(config, storage, transactions, new FakeClock(TEST_NOW)).identity(user);
      const second = await new MlsGroups(config, storage, transactions, new FakeClock(TEST_NOW)).identity(user);
      expect(second.signatureKey).toEqual(first.signatureKey);
    });
  });
});
