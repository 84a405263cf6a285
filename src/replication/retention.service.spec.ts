import type { RoomUri } from '../common/ids';
import { MetricsRegistry } from '../common/metrics';
import type { GatewayConfig } from '../config/gateway-config';
import { InboundDedupeRepository } from '../persistence/repositories/inbound-dedupe.repository';
import { type NewOutboxEntry, OutboxRepository } from '../persistence/repositories/outbox.repository';
import { TransactionRunner } from '../persistence/transaction-runner';
import { FakeClock } from '../../test/support/fake-clock';
import { CLOCK_START, FOLLOWER_A, NOTIFY, ROOM_ONE, ROOM_TWO, bodyFor } from '../../test/support/outbox-fixtures';
import { DATABASE_KINDS, type TestDataSource, createTestDataSource } from '../../test/support/test-data-source';
import { RetentionService } from './retention.service';

const HOUR = 3_600_000;
const OWNER = 'worker-1';
const LEASE_MS = 30_000;
const SETTINGS = { outboxDeliveredHours: 2, dedupeHours: 5, intervalMinutes: 60 };

function row(roomUri: RoomUri, n: number): NewOutboxEntry {
  return {
    destination: FOLLOWER_A,
    roomUri,
    endpoint: NOTIFY,
    body: bodyFor(FOLLOWER_A, roomUri, n),
    idempotencyKey: `${roomUri}|${n}`,
  };
}

describe.each(DATABASE_KINDS)('RetentionService on %s', (kind) => {
  let dataSource: TestDataSource;
  let clock: FakeClock;
  let transactions: TransactionRunner;
  let outbox: OutboxRepository;
  let dedupe: InboundDedupeRepository;
  let registry: MetricsRegistry;
  let retention: RetentionService;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    clock = new FakeClock(CLOCK_START);
    transactions = new TransactionRunner(dataSource);
    outbox = new OutboxRepository(transactions, clock);
    dedupe = new InboundDedupeRepository(transactions, clock);
    registry = new MetricsRegistry();
    retention = new RetentionService({ retention: SETTINGS } as GatewayConfig, outbox, dedupe, clock, registry, {
      autoStart: false,
    });
  });
  afterEach(async () => {
    await retention.beforeApplicationShutdown();
    await dataSource.destroy();
  });

  /** Deliver the head of a stream now (by the fake clock). */
  async function deliverHead(roomUri: RoomUri): Promise<string> {
    await outbox.claimStreams(OWNER, 10, LEASE_MS);
    const [head] = await outbox.pendingEntries({ destination: FOLLOWER_A, roomUri }, 1);
    await outbox.markDelivered(head!, OWNER, LEASE_MS);
    await outbox.releaseStream({ destination: FOLLOWER_A, roomUri }, OWNER);
    return head!.id;
  }

  it('deletes delivered rows and dedupe keys past their retention, and nothing else', async () => {
    await transactions.run((tx) =>
      outbox.append(tx, [row(ROOM_ONE, 1), row(ROOM_ONE, 2), row(ROOM_ONE, 3), row(ROOM_TWO, 1), row(ROOM_TWO, 2)]),
    );
    const old = await deliverHead(ROOM_ONE);
    await dedupe.recordIfNew(undefined, {
      sourceDomain: FOLLOWER_A,
      roomUri: ROOM_ONE,
      endpoint: NOTIFY,
      body: bodyFor('x', ROOM_ONE, 1),
    });
    // A parked row is kept for the operator, whatever its age.
    await outbox.claimStreams(OWNER, 10, LEASE_MS);
    const [toPark] = await outbox.pendingEntries({ destination: FOLLOWER_A, roomUri: ROOM_TWO }, 1);
    await outbox.park(toPark!, 'HTTP 400', OWNER, LEASE_MS);
    await outbox.releaseStream({ destination: FOLLOWER_A, roomUri: ROOM_TWO }, OWNER);

    clock.advance(3 * HOUR);
    const recent = await deliverHead(ROOM_ONE);
    await dedupe.recordIfNew(undefined, {
      sourceDomain: FOLLOWER_A,
      roomUri: ROOM_ONE,
      endpoint: NOTIFY,
      body: bodyFor('x', ROOM_ONE, 2),
    });

    expect(await retention.runOnce()).toEqual({ outboxRows: 1, dedupeKeys: 0 });
    expect(await outbox.findById(old)).toBeUndefined();
    expect(await outbox.findById(recent)).toBeDefined();
    expect(await outbox.findById(toPark!.id)).toMatchObject({ status: 'parked' });
    expect(await outbox.pendingEntries({ destination: FOLLOWER_A, roomUri: ROOM_ONE }, 10)).toHaveLength(1);
    expect(await outbox.pendingEntries({ destination: FOLLOWER_A, roomUri: ROOM_TWO }, 10)).toHaveLength(1);

    clock.advance(3 * HOUR); // the first key is 6 h old, the second 3 h
    expect(await retention.runOnce()).toEqual({ outboxRows: 1, dedupeKeys: 1 });
    const repeat = { sourceDomain: FOLLOWER_A, roomUri: ROOM_ONE, endpoint: NOTIFY };
    expect(await dedupe.recordIfNew(undefined, { ...repeat, body: bodyFor('x', ROOM_ONE, 2) })).toBe(false);
    expect(await dedupe.recordIfNew(undefined, { ...repeat, body: bodyFor('x', ROOM_ONE, 1) })).toBe(true);

    expect(await retention.runOnce()).toEqual({ outboxRows: 0, dedupeKeys: 0 });
    expect(await registry.render()).toContain('mimi_retention_deleted_total{table="outbox_entry"} 2');
    expect(await registry.render()).toContain('mimi_retention_deleted_total{table="inbound_message"} 1');
  });

  it('deletes a backlog larger than one batch in one run', async () => {
    const rows = Array.from({ length: 2_345 }, (_, i) => row(ROOM_ONE, i + 1));
    await transactions.run((tx) => outbox.append(tx, rows));
    await dataSource.query(`UPDATE outbox_entry SET status = 'delivered', delivered_at = ${CLOCK_START}`);
    clock.advance(2 * HOUR + 1);

    expect(await retention.runOnce()).toEqual({ outboxRows: 2_345, dedupeKeys: 0 });
    expect(await outbox.findByIdempotencyKey(`${ROOM_ONE}|1`)).toBeUndefined();
  });

  it('runs on its timer once started, and stops with the application', async () => {
    await transactions.run((tx) => outbox.append(tx, [row(ROOM_ONE, 1)]));
    const id = await deliverHead(ROOM_ONE);
    clock.advance(3 * HOUR);
    const timed = new RetentionService({ retention: SETTINGS } as GatewayConfig, outbox, dedupe, clock, registry, {
      firstRunDelayMs: 1,
    });
    timed.onApplicationBootstrap();
    try {
      for (let i = 0; i < 200 && (await outbox.findById(id)) !== undefined; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await outbox.findById(id)).toBeUndefined();
    } finally {
      await timed.beforeApplicationShutdown();
    }
  });

  it('never deletes a delivered row younger than its retention', async () => {
    await transactions.run((tx) => outbox.append(tx, [row(ROOM_ONE, 1)]));
    const id = await deliverHead(ROOM_ONE);
    clock.advance(2 * HOUR - 1);
    expect(await retention.runOnce()).toEqual({ outboxRows: 0, dedupeKeys: 0 });
    expect(await outbox.findById(id)).toMatchObject({ status: 'delivered' });
  });
});
