import type { ProviderDomain, RoomUri } from '../../common/ids';
import { FakeClock } from '../../../test/support/fake-clock';
import {
  ALL_BYTE_VALUES,
  CLOCK_START,
  FOLLOWER_A,
  FOLLOWER_B,
  NOTIFY,
  ROOM_ONE,
  ROOM_TWO,
  bodyFor,
} from '../../../test/support/outbox-fixtures';
import { DATABASE_KINDS, TestDataSource, createTestDataSource } from '../../../test/support/test-data-source';
import { TransactionRunner } from '../transaction-runner';
import { NewOutboxEntry, OutboxRepository, OutboxStatus, StreamKey } from './outbox.repository';

const LEASE_MS = 30_000;
const OWNER_1 = 'worker-1';
const OWNER_2 = 'worker-2';
const PARK_REASON = 'HTTP 400: malformed body';

function row(destination: ProviderDomain, roomUri: RoomUri, n: number): NewOutboxEntry {
  return {
    destination,
    roomUri,
    endpoint: NOTIFY,
    body: bodyFor(destination, roomUri, n),
    idempotencyKey: `${destination}|${roomUri}|${n}`,
  };
}

describe.each(DATABASE_KINDS)('OutboxRepository on %s', (kind) => {
  let dataSource: TestDataSource;
  let clock: FakeClock;
  let transactions: TransactionRunner;
  let outbox: OutboxRepository;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    clock = new FakeClock(CLOCK_START);
    transactions = new TransactionRunner(dataSource);
    outbox = new OutboxRepository(transactions, clock);
  });
  afterEach(async () => dataSource.destroy());

  const append = (rows: NewOutboxEntry[]) => transactions.run((tx) => outbox.append(tx, rows));
  const streamA1: StreamKey = { destination: FOLLOWER_A, roomUri: ROOM_ONE };

  describe('append', () => {
    it('gives each row the next position of its own stream, in the order given', async () => {
      const first = await append([
        row(FOLLOWER_A, ROOM_ONE, 1),
        row(FOLLOWER_B, ROOM_ONE, 1),
        row(FOLLOWER_A, ROOM_ONE, 2),
      ]);
      const second = await append([row(FOLLOWER_A, ROOM_ONE, 3), row(FOLLOWER_A, ROOM_TWO, 1)]);

      expect(first.map((r) => r.streamSeq)).toEqual([1, 1, 2]);
      expect(second.map((r) => r.streamSeq)).toEqual([3, 1]);
      expect([...first, ...second].every((r) => !r.duplicate)).toBe(true);
    });

    it('stores the exact bytes and the row as pending', async () => {
      const [appended] = await append([{ ...row(FOLLOWER_A, ROOM_ONE, 1), body: ALL_BYTE_VALUES }]);

      const stored = await outbox.findById(appended!.id);

      expect(Buffer.from(stored!.body).equals(Buffer.from(ALL_BYTE_VALUES))).toBe(true);
      expect(stored).toMatchObject({
        destination: FOLLOWER_A,
        roomUri: ROOM_ONE,
        endpoint: NOTIFY,
        status: OutboxStatus.Pending,
        attempts: 0,
        createdAt: CLOCK_START,
        nextAttemptAt: CLOCK_START,
        deliveredAt: null,
        lastError: null,
      });
    });

    it('stores a key once: a second append of the same idempotency key is a reported duplicate', async () => {
      const [original] = await append([row(FOLLOWER_A, ROOM_ONE, 1)]);
      const [again] = await append([{ ...row(FOLLOWER_A, ROOM_ONE, 1), body: bodyFor('other', ROOM_ONE, 9) }]);

      expect(again).toEqual({ ...original, duplicate: true });
      const leases = await outbox.claimStreams(OWNER_1, 10, LEASE_MS);
      expect(leases.map((l) => l.pendingCount)).toEqual([1]);
      expect(await outbox.pendingEntries(streamA1, 10)).toHaveLength(1);
    });

    it('stores nothing when the caller’s transaction rolls back', async () => {
      const failure = new Error('state change failed');

      await expect(
        transactions.run(async (tx) => {
          await outbox.append(tx, [row(FOLLOWER_A, ROOM_ONE, 1)]);
          throw failure;
        }),
      ).rejects.toBe(failure);

      expect(await outbox.findByIdempotencyKey(row(FOLLOWER_A, ROOM_ONE, 1).idempotencyKey)).toBeUndefined();
      expect(await outbox.claimStreams(OWNER_1, 10, LEASE_MS)).toEqual([]);
    });

    it('keeps one row when concurrent transactions append the same key', async () => {
      const results = await Promise.all([
        append([row(FOLLOWER_A, ROOM_ONE, 1)]),
        append([row(FOLLOWER_A, ROOM_ONE, 1)]),
      ]);

      expect(results.flat().filter((r) => !r.duplicate)).toHaveLength(1);
      expect(await outbox.pendingEntries(streamA1, 10)).toHaveLength(1);
    });
  });

  describe('claimStreams', () => {
    it('leases each due stream to exactly one owner', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1), row(FOLLOWER_A, ROOM_TWO, 1), row(FOLLOWER_B, ROOM_ONE, 1)]);

      const first = await outbox.claimStreams(OWNER_1, 2, LEASE_MS);
      const second = await outbox.claimStreams(OWNER_2, 10, LEASE_MS);
      const third = await outbox.claimStreams(OWNER_2, 10, LEASE_MS);

      expect(first).toHaveLength(2);
      expect(second).toHaveLength(1);
      expect(third).toEqual([]);
      const keys = [...first, ...second].map((l) => `${l.destination} ${l.roomUri}`).sort();
      expect(keys).toEqual([`${FOLLOWER_A} ${ROOM_ONE}`, `${FOLLOWER_A} ${ROOM_TWO}`, `${FOLLOWER_B} ${ROOM_ONE}`]);
      expect(second[0]).toMatchObject({ owner: OWNER_2, expiresAt: CLOCK_START + LEASE_MS, previousOwner: null });
    });

    it('hands a stream whose lease expired (a crashed worker) to another owner', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1)]);
      await outbox.claimStreams(OWNER_1, 10, LEASE_MS);

      clock.advance(LEASE_MS - 1);
      expect(await outbox.claimStreams(OWNER_2, 10, LEASE_MS)).toEqual([]);
      clock.advance(1);
      const taken = await outbox.claimStreams(OWNER_2, 10, LEASE_MS);

      expect(taken).toEqual([expect.objectContaining({ ...streamA1, owner: OWNER_2, previousOwner: OWNER_1 })]);
      expect(await outbox.renewLease(streamA1, OWNER_1, LEASE_MS)).toBe(false);
      expect(await outbox.renewLease(streamA1, OWNER_2, LEASE_MS)).toBe(true);
    });

    it('leaves a stream alone until its head row is due again', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1), row(FOLLOWER_A, ROOM_ONE, 2)]);
      const [head] = await outbox.pendingEntries(streamA1, 1);
      await outbox.claimStreams(OWNER_1, 10, LEASE_MS);

      await outbox.scheduleRetry(head!, CLOCK_START + 5_000, 'HTTP 503', OWNER_1);

      expect(await outbox.claimStreams(OWNER_1, 10, LEASE_MS)).toEqual([]);
      clock.advance(5_000);
      expect(await outbox.claimStreams(OWNER_1, 10, LEASE_MS)).toHaveLength(1);
      expect(await outbox.findById(head!.id)).toMatchObject({
        attempts: 1,
        lastError: 'HTTP 503',
        nextAttemptAt: CLOCK_START + 5_000,
      });
    });

    it('gives two concurrent claimers disjoint sets of streams', async () => {
      const rooms = Array.from({ length: 12 }, (_v, i) => `mimi://gw.test/r/room-${i}` as RoomUri);
      await append(rooms.map((r) => row(FOLLOWER_A, r, 1)));
      const other = new OutboxRepository(new TransactionRunner(dataSource), clock);

      const [a, b] = await Promise.all([
        outbox.claimStreams(OWNER_1, 8, LEASE_MS),
        other.claimStreams(OWNER_2, 8, LEASE_MS),
      ]);

      const claimed = [...a, ...b].map((l) => l.roomUri);
      expect(new Set(claimed).size).toBe(claimed.length);
      expect(claimed.length).toBeGreaterThanOrEqual(8);
    });
  });

  describe('pendingEntries', () => {
    it('lists the pending rows of one stream, head first', async () => {
      await append([
        row(FOLLOWER_A, ROOM_ONE, 1),
        row(FOLLOWER_B, ROOM_ONE, 1),
        row(FOLLOWER_A, ROOM_ONE, 2),
        row(FOLLOWER_A, ROOM_ONE, 3),
      ]);

      const pending = await outbox.pendingEntries(streamA1, 2);

      expect(pending.map((p) => p.streamSeq)).toEqual([1, 2]);
      expect(pending.map((p) => Buffer.from(p.body).toString('utf8'))).toEqual([
        Buffer.from(bodyFor(FOLLOWER_A, ROOM_ONE, 1)).toString('utf8'),
        Buffer.from(bodyFor(FOLLOWER_A, ROOM_ONE, 2)).toString('utf8'),
      ]);
    });
  });

  describe('markDelivered', () => {
    it('marks the row delivered, reports its latency and extends the lease', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1), row(FOLLOWER_A, ROOM_ONE, 2)]);
      await outbox.claimStreams(OWNER_1, 10, LEASE_MS);
      const [head] = await outbox.pendingEntries(streamA1, 1);
      clock.advance(250);

      const result = await outbox.markDelivered(head!, OWNER_1, LEASE_MS);

      expect(result).toEqual({ leaseHeld: true, latencyMs: 250 });
      expect(await outbox.findById(head!.id)).toMatchObject({
        status: OutboxStatus.Delivered,
        attempts: 1,
        deliveredAt: CLOCK_START + 250,
      });
      expect((await outbox.pendingEntries(streamA1, 10)).map((p) => p.streamSeq)).toEqual([2]);
      expect((await outbox.pendingDepthByDestination()).get(FOLLOWER_A)).toBe(1);
    });

    it('reports a lost lease and does not count a row twice', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1)]);
      await outbox.claimStreams(OWNER_1, 10, LEASE_MS);
      const [head] = await outbox.pendingEntries(streamA1, 1);
      clock.advance(LEASE_MS);
      await outbox.claimStreams(OWNER_2, 10, LEASE_MS);

      expect(await outbox.markDelivered(head!, OWNER_2, LEASE_MS)).toEqual({ leaseHeld: true, latencyMs: LEASE_MS });
      expect(await outbox.markDelivered(head!, OWNER_1, LEASE_MS)).toEqual({ leaseHeld: false, latencyMs: null });
      expect((await outbox.pendingDepthByDestination()).get(FOLLOWER_A)).toBe(0);
    });

    it('gives the stream back in the same transaction when asked to (release)', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1), row(FOLLOWER_A, ROOM_ONE, 2)]);
      await outbox.claimStreams(OWNER_1, 10, LEASE_MS);
      const rows = await outbox.pendingEntries(streamA1, 1);

      expect(await outbox.markAllDelivered(rows, OWNER_1, LEASE_MS, true)).toMatchObject({ leaseHeld: true });
      // Not expired, yet another owner may take it at once: it was released.
      const [again] = await outbox.claimStreams(OWNER_2, 10, LEASE_MS);
      expect(again).toMatchObject({ ...streamA1, pendingCount: 1 });
      const [next] = await outbox.pendingEntries(streamA1, 1);
      expect(await outbox.markAllDelivered([next!], OWNER_1, LEASE_MS, true)).toMatchObject({ leaseHeld: false });
    });
  });

  describe('park, listParked and requeue', () => {
    it('parks a row with its reason; the next row of the stream is due at once', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1), row(FOLLOWER_A, ROOM_ONE, 2)]);
      await outbox.claimStreams(OWNER_1, 10, LEASE_MS);
      const [head] = await outbox.pendingEntries(streamA1, 1);

      expect(await outbox.park(head!, PARK_REASON, OWNER_1, LEASE_MS)).toEqual({ leaseHeld: true });
      await outbox.releaseStream(streamA1, OWNER_1);

      const parked = await outbox.listParked({ limit: 10 });
      expect(parked).toEqual([
        expect.objectContaining({ id: head!.id, lastError: PARK_REASON, bodyLength: head!.body.length }),
      ]);
      expect(await outbox.listParked({ destination: FOLLOWER_B, limit: 10 })).toEqual([]);
      expect((await outbox.parkedCountByDestination()).get(FOLLOWER_A)).toBe(1);
      const [next] = await outbox.claimStreams(OWNER_2, 10, LEASE_MS);
      expect(next).toMatchObject({ ...streamA1, pendingCount: 1 });
      expect((await outbox.pendingEntries(streamA1, 10)).map((p) => p.streamSeq)).toEqual([2]);
    });

    it('requeues a parked row at its old position, with a fresh attempt count', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1), row(FOLLOWER_A, ROOM_ONE, 2)]);
      await outbox.claimStreams(OWNER_1, 10, LEASE_MS);
      const [head] = await outbox.pendingEntries(streamA1, 1);
      await outbox.park(head!, PARK_REASON, OWNER_1, LEASE_MS);
      await outbox.releaseStream(streamA1, OWNER_1);

      expect(await outbox.requeue(head!.id)).toBe(true);
      expect(await outbox.requeue(head!.id)).toBe(false);

      expect(await outbox.findById(head!.id)).toMatchObject({ status: OutboxStatus.Pending, attempts: 0 });
      expect((await outbox.pendingEntries(streamA1, 10)).map((p) => p.streamSeq)).toEqual([1, 2]);
      expect((await outbox.pendingDepthByDestination()).get(FOLLOWER_A)).toBe(2);
    });
  });

  describe('recountStream', () => {
    it('repairs the pending count from the rows', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1), row(FOLLOWER_A, ROOM_ONE, 2)]);
      await transactions.run(async () => dataSource.query(`UPDATE outbox_stream SET pending_count = 7`));

      expect(await outbox.recountStream(streamA1)).toBe(2);
      expect((await outbox.pendingDepthByDestination()).get(FOLLOWER_A)).toBe(2);
    });
  });

  describe('pruneDelivered', () => {
    it('deletes delivered rows older than the cutoff only', async () => {
      await append([row(FOLLOWER_A, ROOM_ONE, 1), row(FOLLOWER_A, ROOM_ONE, 2)]);
      await outbox.claimStreams(OWNER_1, 10, LEASE_MS);
      const [head] = await outbox.pendingEntries(streamA1, 1);
      await outbox.markDelivered(head!, OWNER_1, LEASE_MS);

      expect(await outbox.pruneDelivered(CLOCK_START, 100)).toBe(0);
      expect(await outbox.pruneDelivered(CLOCK_START + 1, 100)).toBe(1);

      expect(await outbox.findById(head!.id)).toBeUndefined();
      expect(await outbox.pendingEntries(streamA1, 10)).toHaveLength(1);
    });
  });
});
