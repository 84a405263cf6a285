import { FakeClock } from '../../../test/support/fake-clock';
import {
  ALL_BYTE_VALUES,
  CLOCK_START,
  FOLLOWER_A,
  FOLLOWER_B,
  NOTIFY,
  ROOM_ONE,
  ROOM_TWO,
} from '../../../test/support/outbox-fixtures';
import { DATABASE_KINDS, TestDataSource, createTestDataSource } from '../../../test/support/test-data-source';
import { TransactionRunner } from '../transaction-runner';
import { InboundDedupeRepository, InboundMessageKey, sha256Hex } from './inbound-dedupe.repository';

const KEY: InboundMessageKey = { sourceDomain: FOLLOWER_A, roomUri: ROOM_ONE, endpoint: NOTIFY, body: ALL_BYTE_VALUES };
const SHA256_OF_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe(sha256Hex.name, () => {
  it('is the lower-case hex SHA-256 of the bytes', () => {
    expect(sha256Hex(new Uint8Array())).toBe(SHA256_OF_EMPTY);
  });
});

describe.each(DATABASE_KINDS)('InboundDedupeRepository on %s', (kind) => {
  let dataSource: TestDataSource;
  let clock: FakeClock;
  let transactions: TransactionRunner;
  let inbound: InboundDedupeRepository;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    clock = new FakeClock(CLOCK_START);
    transactions = new TransactionRunner(dataSource);
    inbound = new InboundDedupeRepository(transactions, clock);
  });
  afterEach(async () => dataSource.destroy());

  describe('recordIfNew', () => {
    it('is true the first time a body is seen and false for a byte-identical repeat', async () => {
      expect(await inbound.recordIfNew(undefined, KEY)).toBe(true);
      expect(await inbound.recordIfNew(undefined, { ...KEY, body: Uint8Array.from(ALL_BYTE_VALUES) })).toBe(false);
    });

    it('tells apart a different source, room, endpoint or a single changed byte', async () => {
      const changedByte = Uint8Array.from(ALL_BYTE_VALUES);
      changedByte[255] = 0;
      await inbound.recordIfNew(undefined, KEY);

      expect(await inbound.recordIfNew(undefined, { ...KEY, sourceDomain: FOLLOWER_B })).toBe(true);
      expect(await inbound.recordIfNew(undefined, { ...KEY, roomUri: ROOM_TWO })).toBe(true);
      expect(await inbound.recordIfNew(undefined, { ...KEY, endpoint: 'update' })).toBe(true);
      expect(await inbound.recordIfNew(undefined, { ...KEY, body: changedByte })).toBe(true);
    });

    it('forgets the key when the transaction applying the message rolls back', async () => {
      const failure = new Error('effects failed');
      await expect(
        transactions.run(async (tx) => {
          expect(await inbound.recordIfNew(tx, KEY)).toBe(true);
          throw failure;
        }),
      ).rejects.toBe(failure);

      expect(await transactions.run((tx) => inbound.recordIfNew(tx, KEY))).toBe(true);
    });
  });

  describe('pruneSeenBefore', () => {
    it('forgets keys first seen before the cutoff', async () => {
      await inbound.recordIfNew(undefined, KEY);
      clock.advance(1_000);
      await inbound.recordIfNew(undefined, { ...KEY, roomUri: ROOM_TWO });

      expect(await inbound.pruneSeenBefore(CLOCK_START + 1_000)).toBe(1);

      expect(await inbound.recordIfNew(undefined, KEY)).toBe(true);
      expect(await inbound.recordIfNew(undefined, { ...KEY, roomUri: ROOM_TWO })).toBe(false);
    });
  });
});
