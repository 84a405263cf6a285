import { GatewayError } from '../common/errors';
import { FakeClock } from '../../test/support/fake-clock';
import { CLOCK_START, FOLLOWER_A, NOTIFY, ROOM_ONE, bodyFor } from '../../test/support/outbox-fixtures';
import { DATABASE_KINDS, TestDataSource, createTestDataSource } from '../../test/support/test-data-source';
import { NewOutboxEntry, OutboxRepository } from './repositories/outbox.repository';
import { TransactionRunner, Tx } from './transaction-runner';

const ENTRY: NewOutboxEntry = {
  destination: FOLLOWER_A,
  roomUri: ROOM_ONE,
  endpoint: NOTIFY,
  body: bodyFor(FOLLOWER_A, ROOM_ONE, 1),
  idempotencyKey: 'entry-1',
};

/** A promise plus its resolve function, to hold a transaction open until the test says so. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe.each(DATABASE_KINDS)('TransactionRunner on %s', (kind) => {
  let dataSource: TestDataSource;
  let transactions: TransactionRunner;
  let outbox: OutboxRepository;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    transactions = new TransactionRunner(dataSource);
    outbox = new OutboxRepository(transactions, new FakeClock(CLOCK_START));
  });
  afterEach(async () => dataSource.destroy());

  describe('run', () => {
    it('commits what the callback wrote and returns its result', async () => {
      const result = await transactions.run(async (tx) => (await outbox.append(tx, [ENTRY]))[0]!.id);

      expect((await outbox.findByIdempotencyKey(ENTRY.idempotencyKey))?.id).toBe(result);
    });

    it('runs afterCommit callbacks after the commit, and not after a rollback', async () => {
      // The callback reads through a transaction of its own: on PostgreSQL another connection,
      // which sees the row only once it is committed.
      let readByCallback: Promise<unknown> | undefined;
      await transactions.run(async (tx) => {
        await outbox.append(tx, [ENTRY]);
        tx.afterCommit(() => {
          readByCallback = outbox.findByIdempotencyKey(ENTRY.idempotencyKey);
        });
        expect(readByCallback).toBeUndefined();
      });
      const rolledBack = jest.fn();
      await expect(
        transactions.run(async (tx) => {
          tx.afterCommit(rolledBack);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');

      expect(await readByCallback).toMatchObject({ idempotencyKey: ENTRY.idempotencyKey });
      expect(rolledBack).not.toHaveBeenCalled();
    });

    it('refuses a nested run on the same database (the tx must be passed on)', async () => {
      await expect(transactions.run(() => transactions.run(async () => 'inner'))).rejects.toBeInstanceOf(GatewayError);
    });

    it('refuses a Tx used after its transaction ended', async () => {
      let leaked: Tx | undefined;
      await transactions.run(async (tx) => {
        leaked = tx;
      });

      await expect(outbox.append(leaked!, [ENTRY])).rejects.toBeInstanceOf(GatewayError);
      expect(() => leaked!.afterCommit(() => undefined)).toThrow(GatewayError);
    });
  });
});

describe('TransactionRunner on sqlite (one connection)', () => {
  let dataSource: TestDataSource;
  beforeEach(async () => (dataSource = await createTestDataSource('sqlite')));
  afterEach(async () => dataSource.destroy());

  it('runs overlapping transactions one after the other, even from two runners', async () => {
    const first = new TransactionRunner(dataSource);
    const second = new TransactionRunner(dataSource);
    const outbox = new OutboxRepository(first, new FakeClock(CLOCK_START));
    const events: string[] = [];
    const hold = gate();

    const a = first.run(async (tx) => {
      events.push('a:start');
      await outbox.append(tx, [ENTRY]);
      await hold.opened;
      events.push('a:end');
    });
    const b = second.run(async (tx) => {
      events.push('b:start');
      await outbox.append(tx, [{ ...ENTRY, idempotencyKey: 'entry-2' }]);
      events.push('b:end');
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    hold.open();
    await Promise.all([a, b]);

    expect(events).toEqual(['a:start', 'a:end', 'b:start', 'b:end']);
    expect(
      (await outbox.pendingEntries({ destination: FOLLOWER_A, roomUri: ROOM_ONE }, 10)).map((e) => e.streamSeq),
    ).toEqual([1, 2]);
  });
});
