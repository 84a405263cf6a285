import { ValidationError } from '../common/errors';
import type { ProviderDomain, RoomUri } from '../common/ids';
import { MetricsRegistry } from '../common/metrics';
import { OutboxRepository } from '../persistence/repositories/outbox.repository';
import { TransactionRunner } from '../persistence/transaction-runner';
import type { MimiEndpoint } from '../ports/delivery-target.port';
import { FakeClock } from '../../test/support/fake-clock';
import { CLOCK_START, FOLLOWER_A, FOLLOWER_B, ROOM_ONE, bodyFor } from '../../test/support/outbox-fixtures';
import { DATABASE_KINDS, TestDataSource, createTestDataSource } from '../../test/support/test-data-source';
import { OutboxMetrics } from './outbox-metrics';
import { OutboxNotifier } from './outbox-notifier';
import { OutboundMessage, OutboxService } from './outbox.service';

const MESSAGE: OutboundMessage = {
  destination: FOLLOWER_A,
  roomUri: ROOM_ONE,
  endpoint: 'notify',
  body: bodyFor(FOLLOWER_A, ROOM_ONE, 1),
  idempotencyKey: `${ROOM_ONE}#1@${FOLLOWER_A}`,
};
const OWNER = 'worker-1';
const LEASE_MS = 30_000;

describe.each(DATABASE_KINDS)('OutboxService on %s', (kind) => {
  let dataSource: TestDataSource;
  let transactions: TransactionRunner;
  let outbox: OutboxRepository;
  let notifier: OutboxNotifier;
  let wakeUps: number;
  let service: OutboxService;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    transactions = new TransactionRunner(dataSource);
    outbox = new OutboxRepository(transactions, new FakeClock(CLOCK_START));
    notifier = new OutboxNotifier();
    wakeUps = 0;
    notifier.subscribe(() => (wakeUps += 1));
    service = new OutboxService(outbox, notifier);
  });
  afterEach(async () => dataSource.destroy());

  describe('enqueue', () => {
    it('stores the message in the caller’s transaction and wakes the workers only after commit', async () => {
      const stored = await transactions.run(async (tx) => {
        const entry = await service.enqueue(tx, MESSAGE);
        expect(wakeUps).toBe(0);
        return entry;
      });

      expect(wakeUps).toBe(1);
      expect(await outbox.findById(stored.id)).toMatchObject({ destination: FOLLOWER_A, streamSeq: 1 });
    });

    it('neither stores nor wakes when the transaction rolls back', async () => {
      await expect(
        transactions.run(async (tx) => {
          await service.enqueue(tx, MESSAGE);
          throw new Error('state change failed');
        }),
      ).rejects.toThrow('state change failed');

      expect(wakeUps).toBe(0);
      expect(await outbox.findByIdempotencyKey(MESSAGE.idempotencyKey)).toBeUndefined();
    });

    it('does not wake the workers for a duplicate', async () => {
      await transactions.run((tx) => service.enqueue(tx, MESSAGE));
      const again = await transactions.run((tx) => service.enqueue(tx, MESSAGE));

      expect(again.duplicate).toBe(true);
      expect(wakeUps).toBe(1);
    });

    it.each([
      ['a destination that is not a domain', { destination: 'not a domain' as ProviderDomain }],
      ['a room URI that is not a MIMI room', { roomUri: `mimi://${FOLLOWER_B}/u/alice` as RoomUri }],
      ['an unknown endpoint', { endpoint: 'fanout' as MimiEndpoint }],
      ['an empty idempotency key', { idempotencyKey: '' }],
      ['an idempotency key over 255 characters', { idempotencyKey: 'k'.repeat(256) }],
    ])('rejects %s', async (_what, change) => {
      await expect(transactions.run((tx) => service.enqueue(tx, { ...MESSAGE, ...change }))).rejects.toBeInstanceOf(
        ValidationError,
      );
      expect(await outbox.pendingDepthByDestination()).toEqual(new Map());
    });
  });

  describe('requeue', () => {
    it('puts a parked row back and wakes the workers', async () => {
      const stored = await transactions.run((tx) => service.enqueue(tx, MESSAGE));
      const [lease] = await outbox.claimStreams(OWNER, 1, LEASE_MS);
      const [head] = await outbox.pendingEntries(lease!, 1);
      await outbox.park(head!, 'HTTP 400', OWNER, LEASE_MS);
      wakeUps = 0;

      expect(await service.listParked({ limit: 10 })).toEqual([expect.objectContaining({ id: stored.id })]);
      expect(await service.requeue(stored.id)).toBe(true);
      expect(wakeUps).toBe(1);
      expect(await service.requeue(stored.id)).toBe(false);
      expect(wakeUps).toBe(1);
    });
  });
});

describe(OutboxMetrics.name, () => {
  let dataSource: TestDataSource;
  afterEach(async () => dataSource.destroy());

  it('exposes outcomes, backlog and parked rows per destination, and latency', async () => {
    dataSource = await createTestDataSource('sqlite');
    const transactions = new TransactionRunner(dataSource);
    const outbox = new OutboxRepository(transactions, new FakeClock(CLOCK_START));
    const registry = new MetricsRegistry();
    const metrics = new OutboxMetrics(outbox, registry);
    await transactions.run((tx) => new OutboxService(outbox, new OutboxNotifier()).enqueue(tx, MESSAGE));

    metrics.recordDelivered(FOLLOWER_B, 120);
    metrics.recordRetried(FOLLOWER_A);
    metrics.recordParked(FOLLOWER_A);
    const text = await registry.render();

    expect(metrics.counts()).toEqual({ delivered: 1, retried: 1, parked: 1 });
    expect(text).toContain(`mimi_outbox_delivered_total{destination="${FOLLOWER_B}"} 1`);
    expect(text).toContain(`mimi_outbox_retried_total{destination="${FOLLOWER_A}"} 1`);
    expect(text).toContain(`mimi_outbox_parked_total{destination="${FOLLOWER_A}"} 1`);
    expect(text).toContain(`mimi_outbox_pending{destination="${FOLLOWER_A}"} 1`);
    expect(text).toContain('mimi_outbox_delivery_latency_ms_count 1');
    expect(metrics.latencyQuantile(0.5)).toBe(120);
  });
});
