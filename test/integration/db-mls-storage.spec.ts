import { Logger } from '@nestjs/common';
import { type RoomUri, type UserUri } from '../../src/common/ids';
import { validateConfig } from '../../src/config/load-config';
import { RoomGroup, groupIdForRoom } from '../../src/mls';
import { TransactionRunner } from '../../src/persistence';
import { MlsKvRepository } from '../../src/persistence/repositories/mls-kv.repository';
import { FakeClock } from '../support/fake-clock';
import { DATABASE_KINDS, type TestDataSource, createTestDataSource } from '../support/test-data-source';
import { DbMlsStorage } from '../../src/persistence/db-mls-storage';
import { MemberClients } from '../../src/rooms/member-clients';
import { RoomTransactions } from '../../src/persistence/room-transactions';

const DOMAIN = 'gw.test';
const ROOM: RoomUri = 'mimi://gw.test/r/storage' as RoomUri;
const KEY = 'mls/group/x/y';
const VALUE = new Uint8Array([1, 2, 3]);
const OTHER_VALUE = new Uint8Array([9]);
const BOOM = new Error('boom');
const TEST_NOW = 1_800_000_000_000;

beforeAll(() => Logger.overrideLogger(['error']));

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

  describe(MemberClients.name, () => {
    const config = validateConfig({ provider: { domain: DOMAIN } }, { baseDir: '/', env: {} });

    it('drops a client whose group state was rolled back and reopens it from the database', async () => {
      const clients = new MemberClients(config, storage, transactions);
      const bot = await clients.bot();
      const hub = await clients.hub();

      await expect(
        transactions.run(async () => {
          await RoomGroup.create(bot, { roomUri: ROOM, hub, participants: [{ user: bot.user, roleIndex: 6 }] });
          expect(await bot.hasGroup(groupIdForRoom(ROOM))).toBe(true);
          throw BOOM;
        }),
      ).rejects.toBe(BOOM);

      const reopened = await clients.bot();
      expect(reopened).not.toBe(bot);
      expect(await reopened.hasGroup(groupIdForRoom(ROOM))).toBe(false);
    });

    it('keeps one external-sender key for the provider across restarts', async () => {
      const first = await new MemberClients(config, storage, transactions).hub();
      const second = await new MemberClients(config, storage, transactions).hub();
      expect(second.signaturePublicKey).toEqual(first.signaturePublicKey);
      expect(first.domain).toBe(DOMAIN);
    });

    it('gives the same client for the same user', async () => {
      const clients = new MemberClients(config, storage, transactions);
      const user = `mimi://${DOMAIN}/u/memory:alice` as UserUri;
      expect(await clients.client(user)).toBe(await clients.client(user));
    });
  });
});
