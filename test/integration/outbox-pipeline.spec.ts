/**
 * Pipelined `/notify` delivery (issue 12; src/replication/README.md, "pipelining"): the real
 * OutboxWorker on SQLite and PostgreSQL sends up to `outbox.pipelineDepth` requests of a stream at
 * once to a peer that applies them in stream order, and that peer is the follower's real
 * NotifyOrder (src/rooms/follower/notify-order.ts) in front of a log with byte-identical
 * de-duplication (the real InboundDedupeRepository). The network is scripted per request: the
 * test decides when each request arrives at the follower and what the hub is told.
 */
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { FakeClock } from '../support/fake-clock';
import { CLOCK_START, FOLLOWER_A, ROOM_ONE, bodyFor } from '../support/outbox-fixtures';
import {
  DATABASE_KINDS,
  type TestDataSource,
  type TestDatabaseKind,
  createTestDataSource,
} from '../support/test-data-source';
import { ErrorCode, GatewayError } from '../../src/common/errors';
import type { ProviderDomain, RoomUri } from '../../src/common/ids';
import { MetricsRegistry } from '../../src/common/metrics';
import { validateConfig } from '../../src/config/load-config';
import { InboundDedupeRepository } from '../../src/persistence/repositories/inbound-dedupe.repository';
import { OutboxRepository, OutboxStatus } from '../../src/persistence/repositories/outbox.repository';
import { TransactionRunner } from '../../src/persistence/transaction-runner';
import type {
  DeliveryOutcome,
  DeliveryTarget,
  OutboundDelivery,
  StreamOrder,
} from '../../src/ports/delivery-target.port';
import { OutboxMetrics } from '../../src/replication/outbox-metrics';
import { OutboxNotifier } from '../../src/replication/outbox-notifier';
import { OutboxService } from '../../src/replication/outbox.service';
import { OutboxWorker } from '../../src/replication/outbox.worker';
import { NotifyOrder } from '../../src/rooms/follower/notify-order';

const HUB = 'gw.test' as ProviderDomain;
const LEASE_MS = 30_000;
const INITIAL_BACKOFF_MS = 500;
const WAIT_MS = 20_000;
const TOP_OF_RANGE = (): number => 1 - Number.EPSILON;

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
const body = (n: number): string => text(bodyFor(FOLLOWER_A, ROOM_ONE, n));
const joined = (...ns: number[]): string => ns.map(body).join('');
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_v, i) => from + i);

/** One request as it left the hub, with its answer still to be decided by the test. */
interface Request {
  readonly body: string;
  readonly order?: StreamOrder;
  readonly attempt: number;
  /** Deliver it to the follower now (it applies it in stream order); the hub gets the answer unless `tellHub` is false. */
  arrive(tellHub?: boolean): void;
  /** The hub gets `outcome` without the follower seeing the request (lost or cut off before). */
  answer(outcome: DeliveryOutcome): void;
  /** The follower's answer, once it has one. */
  readonly settled: Promise<DeliveryOutcome>;
}

/**
 * The follower end of the wire: requests wait until the test lets them arrive; arrived ones go
 * through NotifyOrder (waiting for the one they follow, as the real endpoint does) into a log with
 * byte-identical de-duplication, which answers delivered + streamOrdered, or 503 GW_OUT_OF_ORDER.
 * `autoArrive` lets every request arrive at once (in send order) unless the test holds them.
 */
class PipelinedFollower implements DeliveryTarget {
  readonly requests: Request[] = [];
  /** What took effect at the follower, in order. */
  readonly applied: string[] = [];
  /** Bodies the follower refuses for good (400), as it would a malformed one. */
  readonly poison = new Set<string>();
  maxInFlight = 0;
  autoArrive = true;
  private inFlight = 0;
  private readonly order = new NotifyOrder();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly dedupe: InboundDedupeRepository,
    private readonly ordered = true,
  ) {
    this.order.waitMs = 2_000;
  }

  deliver(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let resolve!: (o: DeliveryOutcome) => void;
    const answered = new Promise<DeliveryOutcome>((r) => (resolve = r));
    let settled!: Promise<DeliveryOutcome>;
    let decided = false;
    const finish = (o: DeliveryOutcome): DeliveryOutcome => {
      if (!decided) {
        decided = true;
        this.inFlight -= 1;
        resolve(o);
        this.changed();
      }
      return o;
    };
    const request: Request = {
      body: text(delivery.body),
      ...(delivery.streamOrder === undefined ? {} : { order: delivery.streamOrder }),
      attempt: delivery.attempt,
      arrive: (tellHub = true) => {
        settled = this.receive(delivery).then((o) => (tellHub ? finish(o) : o));
      },
      answer: (o) => void finish(o),
      get settled() {
        return settled ?? answered;
      },
    };
    this.requests.push(request);
    this.changed();
    if (this.autoArrive) request.arrive();
    return answered;
  }

  private async receive(delivery: OutboundDelivery): Promise<DeliveryOutcome> {
    try {
      await this.order.run(HUB, delivery.roomUri, this.ordered ? delivery.streamOrder : undefined, async () => {
        if (this.poison.has(text(delivery.body))) throw new GatewayError(ErrorCode.Malformed, 'a bad body');
        const key = {
          sourceDomain: HUB,
          roomUri: delivery.roomUri as RoomUri,
          endpoint: 'notify',
          body: delivery.body,
        };
        if (await this.dedupe.recordIfNew(undefined, key)) this.applied.push(text(delivery.body));
      });
      return this.ordered
        ? { kind: 'delivered', status: 201, streamOrdered: true }
        : { kind: 'delivered', status: 201 };
    } catch (e) {
      if (e instanceof GatewayError && e.code === ErrorCode.OutOfOrder) {
        return { kind: 'retry', reason: `HTTP 503 (${e.code})` };
      }
      if (e instanceof GatewayError && e.code === ErrorCode.Malformed) {
        return { kind: 'permanent', reason: `HTTP 400 (${e.code})`, status: 400 };
      }
      throw e;
    }
  }

  /** Resolve once `condition` holds (checked whenever a request is sent or answered). */
  waitFor(condition: () => boolean, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, WAIT_MS);
      this.listeners.add(check);
    });
  }

  private changed(): void {
    for (const check of [...this.listeners]) check();
  }
}

function worker(
  dataSource: DataSource,
  follower: DeliveryTarget,
  clock: FakeClock,
  owner: string,
  outbox: Record<string, number> = {},
): { worker: OutboxWorker; outbox: OutboxRepository; service: OutboxService; metrics: OutboxMetrics } {
  const config = validateConfig(
    {
      provider: { domain: HUB },
      outbox: {
        concurrency: 4,
        initialBackoffMs: INITIAL_BACKOFF_MS,
        maxBackoffMs: 300_000,
        requestTimeoutMs: 60_000,
        pollIntervalMs: 60_000,
        batchSize: 50,
        coalesceMaxMessages: 1,
        pipelineDepth: 3,
        ...outbox,
      },
    },
    { env: {} },
  );
  const transactions = new TransactionRunner(dataSource);
  const repository = new OutboxRepository(transactions, clock);
  const notifier = new OutboxNotifier();
  const metrics = new OutboxMetrics(repository, new MetricsRegistry());
  const service = new OutboxService(repository, notifier);
  return {
    worker: new OutboxWorker(config, repository, follower, notifier, metrics, clock, {
      owner,
      leaseMs: LEASE_MS,
      random: TOP_OF_RANGE,
    }),
    outbox: repository,
    service,
    metrics,
  };
}

async function enqueue(dataSource: DataSource, service: OutboxService, ns: readonly number[]): Promise<void> {
  await new TransactionRunner(dataSource).run((tx) =>
    service.enqueueAll(
      tx,
      ns.map((n) => ({
        destination: FOLLOWER_A,
        roomUri: ROOM_ONE,
        endpoint: 'notify' as const,
        body: bodyFor(FOLLOWER_A, ROOM_ONE, n),
        idempotencyKey: `${ROOM_ONE}#${n}`,
      })),
    ),
  );
}

async function statusOf(outbox: OutboxRepository, n: number): Promise<{ status: string; attempts: number }> {
  const row = await outbox.findByIdempotencyKey(`${ROOM_ONE}#${n}`);
  return { status: row!.status, attempts: row!.attempts };
}

beforeAll(() => Logger.overrideLogger(false));
afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']));

describe.each(DATABASE_KINDS)('pipelined /notify delivery on %s', (kind: TestDatabaseKind) => {
  let dataSource: TestDataSource;
  let clock: FakeClock;
  let dedupe: InboundDedupeRepository;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    clock = new FakeClock(CLOCK_START);
    dedupe = new InboundDedupeRepository(new TransactionRunner(dataSource), clock);
  });
  afterEach(async () => dataSource.destroy());

  it('sends up to pipelineDepth requests at once to a follower that orders them, each naming the one it follows', async () => {
    const follower = new PipelinedFollower(dedupe);
    follower.autoArrive = false;
    const gw = worker(dataSource, follower, clock, 'gw-1', { coalesceMaxMessages: 2 });
    await enqueue(dataSource, gw.service, range(1, 10));
    const drained = gw.worker.drainUntilIdle();

    // The first request goes alone: the follower has not said yet that it orders the stream.
    await follower.waitFor(() => follower.requests.length === 1, 'the first request');
    follower.requests[0]!.arrive();
    // Then three at once; the last arrives first and is applied only after the two before it.
    await follower.waitFor(() => follower.requests.length === 4, 'three requests in flight');
    const [, second, third, fourth] = follower.requests;
    fourth!.arrive();
    third!.arrive();
    second!.arrive();
    await follower.waitFor(() => follower.requests.length === 5, 'the fifth request');
    follower.autoArrive = false;
    for (const r of follower.requests.slice(4)) r.arrive();
    follower.autoArrive = true;
    await drained;

    expect(follower.requests.map((r) => r.body)).toEqual([
      joined(1, 2),
      joined(3, 4),
      joined(5, 6),
      joined(7, 8),
      joined(9, 10),
    ]);
    expect(follower.requests.slice(0, 4).map((r) => r.order)).toEqual([
      { last: 2 },
      { last: 4 },
      { last: 6, after: 4 },
      { last: 8, after: 6 },
    ]);
    expect(follower.maxInFlight).toBe(3);
    expect(follower.applied).toEqual(follower.requests.map((r) => r.body));
    expect(gw.metrics.counts()).toEqual({ delivered: 10, retried: 0, parked: 0 });
  });

  it('sends one request at a time to a follower that does not say it orders them', async () => {
    const follower = new PipelinedFollower(dedupe, false);
    const gw = worker(dataSource, follower, clock, 'gw-1', { coalesceMaxMessages: 2 });
    await enqueue(dataSource, gw.service, range(1, 10));

    await gw.worker.drainUntilIdle();

    expect(follower.maxInFlight).toBe(1);
    expect(follower.applied).toEqual([1, 3, 5, 7, 9].map((n) => joined(n, n + 1)));
  });

  it('an earlier request failing while a later one was applied: records the later one, retries the earlier, then the rest in order', async () => {
    const follower = new PipelinedFollower(dedupe);
    const gw = worker(dataSource, follower, clock, 'gw-1');
    await enqueue(dataSource, gw.service, [1]);
    await gw.worker.drainUntilIdle(); // learns that the follower orders the stream
    follower.autoArrive = false;
    await enqueue(dataSource, gw.service, range(2, 6));
    const drained = gw.worker.drainOnce();
    await follower.waitFor(() => follower.requests.length === 4, 'three requests in flight');
    const [, r2, r3, r4] = follower.requests;
    // 2 is applied but its answer is lost (a 503 from a proxy); 3 is applied after it and
    // acknowledged; 4 never reaches the follower (connection reset).
    r2!.arrive(false);
    await r2!.settled;
    r2!.answer({ kind: 'retry', reason: 'HTTP 503 from a proxy' });
    r3!.arrive();
    await r3!.settled;
    r4!.answer({ kind: 'retry', reason: 'connection reset' });
    await drained;

    expect(await statusOf(gw.outbox, 2)).toEqual({ status: OutboxStatus.Pending, attempts: 1 });
    expect(await statusOf(gw.outbox, 3)).toEqual({ status: OutboxStatus.Delivered, attempts: 1 });
    // Sent after a failure ahead of it: not counted as an attempt, sent again in turn.
    expect(await statusOf(gw.outbox, 4)).toEqual({ status: OutboxStatus.Pending, attempts: 0 });

    follower.autoArrive = true;
    expect(await gw.worker.drainOnce()).toBe(0); // the stream waits for the head's retry
    clock.advance(INITIAL_BACKOFF_MS);
    await gw.worker.drainUntilIdle();

    expect(follower.requests.slice(4).map((r) => [r.body, r.attempt])).toEqual([
      [body(2), 2],
      [body(4), 1],
      [body(5), 1],
      [body(6), 1],
    ]);
    // Each message took effect once, in stream order (the resend of 2 was a duplicate).
    expect(follower.applied).toEqual(range(1, 6).map(body));
    expect(gw.metrics.counts()).toEqual({ delivered: 6, retried: 1, parked: 0 });
  });

  it('a request that arrives before the one it follows, which never comes, is refused 503 and sent again after it', async () => {
    const follower = new PipelinedFollower(dedupe);
    const gw = worker(dataSource, follower, clock, 'gw-1');
    await enqueue(dataSource, gw.service, [1]);
    await gw.worker.drainUntilIdle();
    follower.autoArrive = false;
    await enqueue(dataSource, gw.service, range(2, 3));
    const drained = gw.worker.drainOnce();
    await follower.waitFor(() => follower.requests.length === 3, 'two requests in flight');
    const [, r2, r3] = follower.requests;
    r3!.arrive(); // waits at the follower for 2 ...
    r2!.answer({ kind: 'retry', reason: 'connection reset' }); // ... which is lost on the way
    expect(await r3!.settled).toEqual({ kind: 'retry', reason: `HTTP 503 (${ErrorCode.OutOfOrder})` });
    await drained;
    expect(follower.applied).toEqual([body(1)]);

    follower.autoArrive = true;
    clock.advance(INITIAL_BACKOFF_MS);
    await gw.worker.drainUntilIdle();
    expect(follower.applied).toEqual(range(1, 3).map(body));
    expect(await statusOf(gw.outbox, 3)).toEqual({ status: OutboxStatus.Delivered, attempts: 1 });
  });

  it('parks a poison message alone: the requests after it are refused out of order and sent again after it', async () => {
    const follower = new PipelinedFollower(dedupe);
    const gw = worker(dataSource, follower, clock, 'gw-1');
    await enqueue(dataSource, gw.service, [1]);
    await gw.worker.drainUntilIdle();
    follower.autoArrive = false;
    await enqueue(dataSource, gw.service, range(2, 5));
    const drained = gw.worker.drainUntilIdle();
    await follower.waitFor(() => follower.requests.length === 4, 'three requests in flight');
    const [, r2, r3, r4] = follower.requests;
    follower.poison.add(body(2));
    r4!.arrive();
    r3!.arrive();
    // The follower refuses 2 for good (a 400: its body is bad): 3 and 4 must not overtake it.
    r2!.arrive();
    expect(await r4!.settled).toEqual({ kind: 'retry', reason: `HTTP 503 (${ErrorCode.OutOfOrder})` });
    follower.autoArrive = true;
    await drained;

    expect(await gw.service.listParked({ limit: 10 })).toEqual([
      expect.objectContaining({ streamSeq: 2, lastError: 'HTTP 400 (MIMI_MALFORMED)' }),
    ]);
    expect(follower.applied).toEqual([1, 3, 4, 5].map(body));
    expect(gw.metrics.counts()).toEqual({ delivered: 4, retried: 0, parked: 1 });
  });

  it('after a crash with requests in flight, another process resends from the head; the follower keeps each message once, in order', async () => {
    const crashedDb = await dataSource.database.open();
    try {
      const follower = new PipelinedFollower(dedupe);
      const crashed = worker(crashedDb, follower, clock, 'crashed', { coalesceMaxMessages: 2 });
      await enqueue(crashedDb, crashed.service, [1, 2]);
      await crashed.worker.drainUntilIdle();
      follower.autoArrive = false;
      await enqueue(crashedDb, crashed.service, range(3, 12));
      void crashed.worker.drainOnce().catch(() => undefined);
      await follower.waitFor(() => follower.requests.length === 4, 'three requests in flight');
      const [, r34, r56, r78] = follower.requests;
      // 3-4 and 5-6 are applied (7-8 is still on its way) when the process dies, before any answer came back.
      r56!.arrive(false);
      r34!.arrive(false);
      await r56!.settled;
      await crashedDb.destroy();
      r78!.arrive(false);
      await r78!.settled;

      const survivorFollower = new PipelinedFollower(dedupe);
      const survivor = worker(dataSource, survivorFollower, clock, 'survivor', { coalesceMaxMessages: 2 });
      expect(await survivor.worker.drainOnce()).toBe(0); // the crashed process's lease still holds
      clock.advance(LEASE_MS);
      await survivor.worker.drainUntilIdle();

      // Byte-identical resends of the bound batches, in stream order; duplicates dropped.
      expect(survivorFollower.requests.map((r) => r.body)).toEqual([
        joined(3, 4),
        joined(5, 6),
        joined(7, 8),
        joined(9, 10),
        joined(11, 12),
      ]);
      expect([...follower.applied, ...survivorFollower.applied]).toEqual(
        [1, 3, 5, 7, 9, 11].map((n) => joined(n, n + 1)),
      );
      expect(await statusOf(survivor.outbox, 12)).toEqual({ status: OutboxStatus.Delivered, attempts: 1 });
    } finally {
      if (crashedDb.isInitialized) await crashedDb.destroy();
    }
  });
});
