import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock, SystemClock } from '../common/clock';
import { ProviderDomain, RoomUri } from '../common/ids';
import { GatewayConfig } from '../config/gateway-config';
import { validateConfig } from '../config/load-config';
import { InboundDedupeRepository } from '../persistence/repositories/inbound-dedupe.repository';
import { OutboxRepository, OutboxStatus } from '../persistence/repositories/outbox.repository';
import { runMigrations } from '../persistence/run-migrations';
import { TransactionRunner } from '../persistence/transaction-runner';
import type { DeliveryOutcome, OutboundDelivery } from '../ports/delivery-target.port';
import { FakeClock } from '../../test/support/fake-clock';
import {
  CLOCK_START,
  FOLLOWER_A,
  FOLLOWER_B,
  FOLLOWER_C,
  ROOM_ONE,
  ROOM_TWO,
  bodyFor,
} from '../../test/support/outbox-fixtures';
import { DELIVERED, HANG, ScriptedDeliveryTarget } from '../../test/support/scripted-delivery-target';
import {
  DATABASE_KINDS,
  SILENT_LOGGER,
  TestDatabase,
  TestDatabaseKind,
  TestDataSource,
  createTestDataSource,
} from '../../test/support/test-data-source';
import { MetricsRegistry } from '../common/metrics';
import { OutboxMetrics } from './outbox-metrics';
import { OutboxNotifier } from './outbox-notifier';
import { OutboundMessage, OutboxService } from './outbox.service';
import { OutboxWorker, OutboxWorkerOptions } from './outbox.worker';

const HUB = 'gw.test' as ProviderDomain;
const INITIAL_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 300_000;
const RETRY_AFTER_MS = 120_000;
const LEASE_MS = 30_000;
const SIX_HOURS_MS = 6 * 60 * 60 * 1000;
const WAIT_MS = 20_000;
/** With this jitter draw every delay equals its ceiling, so the test knows when a retry is due. */
const TOP_OF_RANGE = () => 1 - Number.EPSILON;
const PERMANENT_REASON = 'HTTP 400: body is not a valid MIMI message';

function gatewayConfig(outbox: Record<string, number>, peers: Record<string, unknown>[] = []): GatewayConfig {
  return validateConfig(
    {
      provider: { domain: HUB },
      peers,
      outbox: {
        concurrency: 4,
        initialBackoffMs: INITIAL_BACKOFF_MS,
        maxBackoffMs: MAX_BACKOFF_MS,
        requestTimeoutMs: 60_000,
        pollIntervalMs: 60_000,
        batchSize: 50,
        // One row per request unless a test is about combining them ('coalescing').
        coalesceMaxMessages: 1,
        ...outbox,
      },
    },
    { env: {} },
  );
}

function message(destination: ProviderDomain, roomUri: RoomUri, n: number): OutboundMessage {
  return {
    destination,
    roomUri,
    endpoint: 'notify',
    body: bodyFor(destination, roomUri, n),
    idempotencyKey: `${roomUri}#${n}@${destination}`,
  };
}

function text(body: Uint8Array): string {
  return Buffer.from(body).toString('utf8');
}

/**
 * The receiving providers: what each one accepted, after its byte-identical de-duplication
 * (the real InboundDedupeRepository; one table stands in for every receiver's, the bodies name
 * their destination so they never collide).
 */
class FakeReceivers {
  readonly received: OutboundDelivery[] = [];
  readonly effects: OutboundDelivery[] = [];

  constructor(private readonly dedupe: InboundDedupeRepository) {}

  readonly onReceived = async (delivery: OutboundDelivery): Promise<void> => {
    this.received.push(delivery);
    const key = {
      sourceDomain: HUB,
      roomUri: delivery.roomUri as RoomUri,
      endpoint: delivery.endpoint,
      body: delivery.body,
    };
    if (await this.dedupe.recordIfNew(undefined, key)) this.effects.push(delivery);
  };

  /** Bodies that took effect for one stream, in arrival order. */
  effectsOf(destination: string, roomUri: string): string[] {
    return this.effects.filter((d) => d.destination === destination && d.roomUri === roomUri).map((d) => text(d.body));
  }
}

/** One gateway process: its own DataSource, repositories and worker. */
class Gateway {
  readonly transactions: TransactionRunner;
  readonly outbox: OutboxRepository;
  readonly notifier = new OutboxNotifier();
  readonly metrics: OutboxMetrics;
  readonly registry = new MetricsRegistry();
  readonly service: OutboxService;
  readonly worker: OutboxWorker;

  constructor(
    dataSource: DataSource,
    config: GatewayConfig,
    target: ScriptedDeliveryTarget,
    clock: Clock,
    options: OutboxWorkerOptions,
  ) {
    this.transactions = new TransactionRunner(dataSource);
    this.outbox = new OutboxRepository(this.transactions, clock);
    this.metrics = new OutboxMetrics(this.outbox, this.registry);
    this.service = new OutboxService(this.outbox, this.notifier);
    this.worker = new OutboxWorker(config, this.outbox, target, this.notifier, this.metrics, clock, options);
  }

  enqueue(messages: OutboundMessage[]): Promise<unknown> {
    return this.transactions.run((tx) => this.service.enqueueAll(tx, messages));
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_v, i) => i + 1);
}

function expectedBodies(destination: ProviderDomain, roomUri: RoomUri, count: number): string[] {
  return range(count).map((n) => text(bodyFor(destination, roomUri, n)));
}

beforeAll(() => Logger.overrideLogger(false));
afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']));

describe.each(DATABASE_KINDS)('OutboxWorker on %s', (kind: TestDatabaseKind) => {
  let dataSource: TestDataSource;
  let clock: FakeClock;
  let receivers: FakeReceivers;
  let target: ScriptedDeliveryTarget;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    clock = new FakeClock(CLOCK_START);
    receivers = new FakeReceivers(new InboundDedupeRepository(new TransactionRunner(dataSource), clock));
    target = new ScriptedDeliveryTarget(clock, { onReceived: receivers.onReceived });
  });
  afterEach(async () => dataSource.destroy());

  const gateway = (config = gatewayConfig({}), options: OutboxWorkerOptions = {}) =>
    new Gateway(dataSource, config, target, clock, {
      random: TOP_OF_RANGE,
      leaseMs: LEASE_MS,
      owner: 'gw-1',
      ...options,
    });

  describe('delivery order', () => {
    it('delivers every stream in order, once, with the exact bytes stored', async () => {
      const gw = gateway();
      const streams = [FOLLOWER_A, FOLLOWER_B, FOLLOWER_C].flatMap((d) =>
        [ROOM_ONE, ROOM_TWO].map((r) => [d, r] as const),
      );
      for (const n of range(5)) await gw.enqueue(streams.map(([d, r]) => message(d, r, n)));

      await gw.worker.drainUntilIdle();

      for (const [d, r] of streams) expect(receivers.effectsOf(d, r)).toEqual(expectedBodies(d, r, 5));
      expect(receivers.received).toHaveLength(30);
      expect(gw.metrics.counts()).toEqual({ delivered: 30, retried: 0, parked: 0 });
      expect((await gw.outbox.pendingDepthByDestination()).get(FOLLOWER_A)).toBe(0);
    });
  });

  describe('retries', () => {
    it('retries with backoff and Retry-After, resending the same bytes, then delivers the stream in order', async () => {
      const gw = gateway();
      await gw.enqueue(range(3).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));
      target.script(
        FOLLOWER_A,
        { kind: 'retry', reason: 'connect ECONNREFUSED' },
        { kind: 'retry', reason: 'HTTP 500' },
        { kind: 'retry', reason: 'HTTP 503', retryAfterMs: RETRY_AFTER_MS },
      );
      const attemptsSoFar = () => target.attemptsTo(FOLLOWER_A).length;

      await gw.worker.drainUntilIdle();
      expect(attemptsSoFar()).toBe(1);
      clock.advance(INITIAL_BACKOFF_MS - 1);
      await gw.worker.drainUntilIdle();
      expect(attemptsSoFar()).toBe(1);
      clock.advance(1);
      await gw.worker.drainUntilIdle();
      expect(attemptsSoFar()).toBe(2);
      clock.advance(2 * INITIAL_BACKOFF_MS);
      await gw.worker.drainUntilIdle();
      expect(attemptsSoFar()).toBe(3);
      clock.advance(RETRY_AFTER_MS - 1);
      await gw.worker.drainUntilIdle();
      expect(attemptsSoFar()).toBe(3);
      clock.advance(1);
      await gw.worker.drainUntilIdle();

      const attempts = target.attemptsTo(FOLLOWER_A);
      expect(attempts.map((a) => [text(a.body), a.attempt, a.at - CLOCK_START])).toEqual([
        [text(bodyFor(FOLLOWER_A, ROOM_ONE, 1)), 1, 0],
        [text(bodyFor(FOLLOWER_A, ROOM_ONE, 1)), 2, INITIAL_BACKOFF_MS],
        [text(bodyFor(FOLLOWER_A, ROOM_ONE, 1)), 3, 3 * INITIAL_BACKOFF_MS],
        [text(bodyFor(FOLLOWER_A, ROOM_ONE, 1)), 4, 3 * INITIAL_BACKOFF_MS + RETRY_AFTER_MS],
        [text(bodyFor(FOLLOWER_A, ROOM_ONE, 2)), 1, 3 * INITIAL_BACKOFF_MS + RETRY_AFTER_MS],
        [text(bodyFor(FOLLOWER_A, ROOM_ONE, 3)), 1, 3 * INITIAL_BACKOFF_MS + RETRY_AFTER_MS],
      ]);
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual(expectedBodies(FOLLOWER_A, ROOM_ONE, 3));
      expect(gw.metrics.counts()).toEqual({ delivered: 3, retried: 3, parked: 0 });
      const first = await gw.outbox.findByIdempotencyKey(message(FOLLOWER_A, ROOM_ONE, 1).idempotencyKey);
      expect(first).toMatchObject({ status: OutboxStatus.Delivered, attempts: 4, lastError: 'HTTP 503' });
    });

    it('catches up in order when a destination comes back after hours down', async () => {
      const gw = gateway();
      target.setDown(FOLLOWER_A, true);
      let sent = 0;
      for (let elapsed = 0; elapsed < SIX_HOURS_MS; elapsed += MAX_BACKOFF_MS) {
        sent += 1;
        await gw.enqueue([message(FOLLOWER_A, ROOM_ONE, sent)]);
        await gw.worker.drainUntilIdle();
        clock.advance(MAX_BACKOFF_MS);
      }
      const whileDown = target.attemptsTo(FOLLOWER_A);
      target.setDown(FOLLOWER_A, false);

      await gw.worker.drainUntilIdle();

      expect(new Set(whileDown.map((a) => a.id)).size).toBe(1);
      expect(whileDown.length).toBeLessThanOrEqual(sent);
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual(expectedBodies(FOLLOWER_A, ROOM_ONE, sent));
      expect(receivers.received).toHaveLength(sent);
    });

    it('does not let a destination that is down hold back another one', async () => {
      const gw = gateway();
      target.setDown(FOLLOWER_A, true);
      await gw.enqueue(range(4).flatMap((n) => [message(FOLLOWER_A, ROOM_ONE, n), message(FOLLOWER_B, ROOM_ONE, n)]));

      await gw.worker.drainUntilIdle();

      expect(receivers.effectsOf(FOLLOWER_B, ROOM_ONE)).toEqual(expectedBodies(FOLLOWER_B, ROOM_ONE, 4));
      expect(target.attemptsTo(FOLLOWER_A).map((a) => text(a.body))).toEqual(expectedBodies(FOLLOWER_A, ROOM_ONE, 1));
      expect((await gw.outbox.pendingDepthByDestination()).get(FOLLOWER_A)).toBe(4);
    });

    it('holds back only the stream whose head waits for a retry', async () => {
      const gw = gateway();
      target.script(FOLLOWER_A, { kind: 'retry', reason: 'HTTP 502' });
      await gw.enqueue(range(3).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));
      await gw.worker.drainUntilIdle();
      await gw.enqueue(range(3).map((n) => message(FOLLOWER_A, ROOM_TWO, n)));

      await gw.worker.drainUntilIdle();

      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual([]);
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_TWO)).toEqual(expectedBodies(FOLLOWER_A, ROOM_TWO, 3));
      clock.advance(INITIAL_BACKOFF_MS);
      await gw.worker.drainUntilIdle();
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual(expectedBodies(FOLLOWER_A, ROOM_ONE, 3));
    });

    it('retries a delivery that gets no answer within requestTimeoutMs', async () => {
      const gw = gateway(gatewayConfig({ requestTimeoutMs: 100 }));
      target.script(FOLLOWER_A, HANG);
      await gw.enqueue([message(FOLLOWER_A, ROOM_ONE, 1)]);

      await gw.worker.drainUntilIdle();
      clock.advance(INITIAL_BACKOFF_MS);
      await gw.worker.drainUntilIdle();

      expect(target.attemptsTo(FOLLOWER_A).map((a) => a.attempt)).toEqual([1, 2]);
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual(expectedBodies(FOLLOWER_A, ROOM_ONE, 1));
      expect(receivers.received).toHaveLength(2);
    });
  });

  describe('permanent failures', () => {
    it('parks the rejected row with its reason, logs a warning and goes on with the stream', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn');
      const gw = gateway();
      target.script(FOLLOWER_A, DELIVERED, { kind: 'permanent', reason: PERMANENT_REASON, status: 400 });
      await gw.enqueue(range(4).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));

      await gw.worker.drainUntilIdle();

      const expected = expectedBodies(FOLLOWER_A, ROOM_ONE, 4);
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual([expected[0], expected[2], expected[3]]);
      const parked = await gw.service.listParked({ limit: 10 });
      expect(parked).toEqual([expect.objectContaining({ streamSeq: 2, lastError: PERMANENT_REASON })]);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining(`parked outboxId=${parked[0]!.id}`));
      expect(gw.metrics.counts()).toEqual({ delivered: 3, retried: 0, parked: 1 });
      warn.mockRestore();

      expect(await gw.service.requeue(parked[0]!.id)).toBe(true);
      await gw.worker.drainUntilIdle();
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual([expected[0], expected[2], expected[3], expected[1]]);
    });
  });

  describe('a destination refusing us (401/403, T21)', () => {
    it('backs off instead of parking, raises the auth-failure metric and logs an error, then delivers in order', async () => {
      const error = jest.spyOn(Logger.prototype, 'error');
      const gw = gateway();
      await gw.enqueue(range(2).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));
      const refused = (status: 401 | 403) =>
        ({ kind: 'retry', reason: `HTTP ${status} MIMI_UNAUTHENTICATED`, peerAuthStatus: status }) as const;
      target.script(FOLLOWER_A, refused(401), refused(403));
      const metric = async (name: string) =>
        new RegExp(`^${name}\\{destination="${FOLLOWER_A}"\\} (\\d+)$`, 'm').exec(await gw.registry.render())?.[1];

      await gw.worker.drainUntilIdle();
      clock.advance(INITIAL_BACKOFF_MS);
      await gw.worker.drainUntilIdle();

      expect(await gw.service.listParked({ limit: 10 })).toEqual([]);
      expect(await metric('mimi_outbox_peer_auth_failures_total')).toBe('2');
      expect(await metric('mimi_outbox_peer_auth_failing')).toBe('1');
      expect(error).toHaveBeenCalledWith(expect.stringContaining(`${FOLLOWER_A} refused us (HTTP 401`));
      error.mockRestore();

      clock.advance(2 * INITIAL_BACKOFF_MS);
      await gw.worker.drainUntilIdle();
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual(expectedBodies(FOLLOWER_A, ROOM_ONE, 2));
      expect(gw.metrics.counts()).toEqual({ delivered: 2, retried: 2, parked: 0 });
      expect(await metric('mimi_outbox_peer_auth_failing')).toBe('0');
    });
  });

  describe('coalescing (several /notify messages of a stream in one request)', () => {
    const body = (n: number) => text(bodyFor(FOLLOWER_A, ROOM_ONE, n));
    const joined = (...ns: number[]) => ns.map(body).join('');

    it('combines a backlog into requests of at most coalesceMaxMessages, in order', async () => {
      const gw = gateway(gatewayConfig({ coalesceMaxMessages: 4 }));
      await gw.enqueue(range(10).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));

      await gw.worker.drainUntilIdle();

      expect(target.attemptsTo(FOLLOWER_A).map((a) => text(a.body))).toEqual([
        joined(1, 2, 3, 4),
        joined(5, 6, 7, 8),
        joined(9, 10),
      ]);
      expect(gw.metrics.counts()).toEqual({ delivered: 10, retried: 0, parked: 0 });
      expect((await gw.outbox.pendingDepthByDestination()).get(FOLLOWER_A)).toBe(0);
      const last = await gw.outbox.findByIdempotencyKey(message(FOLLOWER_A, ROOM_ONE, 10).idempotencyKey);
      expect(last).toMatchObject({ status: OutboxStatus.Delivered, attempts: 1 });
    });

    it("follows a peer's own coalesceMaxMessages over the outbox default", async () => {
      const gw = gateway(
        gatewayConfig({ coalesceMaxMessages: 8 }, [
          { domain: FOLLOWER_B, baseUrl: 'https://follower-b.example', coalesceMaxMessages: 1 },
        ]),
      );
      await gw.enqueue(range(3).flatMap((n) => [message(FOLLOWER_A, ROOM_ONE, n), message(FOLLOWER_B, ROOM_ONE, n)]));

      await gw.worker.drainUntilIdle();

      expect(target.attemptsTo(FOLLOWER_A).map((a) => text(a.body))).toEqual([joined(1, 2, 3)]);
      expect(target.attemptsTo(FOLLOWER_B).map((a) => text(a.body))).toEqual(expectedBodies(FOLLOWER_B, ROOM_ONE, 3));
    });

    it('keeps a combined request under coalesceMaxBytes, and sends a larger message alone', async () => {
      const limit = 1024; // the smallest coalesceMaxBytes the config takes
      const gw = gateway(gatewayConfig({ coalesceMaxMessages: 10, coalesceMaxBytes: limit }));
      const sized = (n: number, bytes: number): OutboundMessage => ({
        ...message(FOLLOWER_A, ROOM_ONE, n),
        body: Buffer.alloc(bytes, 0x60 + n),
      });
      // Two 400-byte messages fit under the limit and a third does not; 4096 bytes exceed it alone.
      await gw.enqueue([sized(1, 400), sized(2, 400), sized(3, 400), sized(4, 4096), sized(5, 400)]);

      await gw.worker.drainUntilIdle();

      const sent = target.attemptsTo(FOLLOWER_A).map((a) => a.body);
      expect(sent.map((b) => b.length)).toEqual([800, 400, 4096, 400]);
      expect(Buffer.concat(sent)).toEqual(
        Buffer.concat(
          [1, 2, 3].map((n) => Buffer.alloc(400, 0x60 + n)).concat([Buffer.alloc(4096, 0x64), Buffer.alloc(400, 0x65)]),
        ),
      );
    });

    it('resends a combined request byte for byte, even when more messages arrived meanwhile', async () => {
      const gw = gateway(gatewayConfig({ coalesceMaxMessages: 8 }));
      await gw.enqueue(range(3).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));
      target.script(FOLLOWER_A, { kind: 'retry', reason: 'HTTP 503' });

      await gw.worker.drainUntilIdle();
      await gw.enqueue([4, 5].map((n) => message(FOLLOWER_A, ROOM_ONE, n)));
      clock.advance(INITIAL_BACKOFF_MS);
      await gw.worker.drainUntilIdle();

      expect(target.attemptsTo(FOLLOWER_A).map((a) => [text(a.body), a.attempt])).toEqual([
        [joined(1, 2, 3), 1],
        [joined(1, 2, 3), 2],
        [joined(4, 5), 1],
      ]);
      // The first attempt reached the receiver (the answer was lost): its byte-identical
      // de-duplication recognises the resend.
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual([joined(1, 2, 3), joined(4, 5)]);
      expect(gw.metrics.counts()).toEqual({ delivered: 5, retried: 1, parked: 0 });
    });

    it('resends the same combined request after a crash between sending and recording', async () => {
      const crashed = gateway(gatewayConfig({ coalesceMaxMessages: 8 }), { owner: 'gw-crashed' });
      await crashed.enqueue(range(3).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));
      target.script(FOLLOWER_A, HANG);
      void crashed.worker.drainOnce();
      await target.waitFor(() => target.attemptsTo(FOLLOWER_A).length === 1, WAIT_MS, 'the first attempt');

      clock.advance(LEASE_MS);
      const survivor = gateway(gatewayConfig({ coalesceMaxMessages: 8 }), { owner: 'gw-2' });
      await survivor.enqueue([message(FOLLOWER_A, ROOM_ONE, 4)]);
      await survivor.worker.drainUntilIdle();

      const bodies = target.attemptsTo(FOLLOWER_A).map((a) => text(a.body));
      expect(bodies).toEqual([joined(1, 2, 3), joined(1, 2, 3), joined(4)]);
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual([joined(1, 2, 3), joined(4)]);
    });

    it('sends the messages of a request the peer refused one by one, and parks only the bad one', async () => {
      const gw = gateway(gatewayConfig({ coalesceMaxMessages: 8 }));
      await gw.enqueue(range(3).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));
      const refused = { kind: 'permanent' as const, reason: PERMANENT_REASON, status: 400 };
      target.script(FOLLOWER_A, refused, DELIVERED, refused, DELIVERED);

      await gw.worker.drainUntilIdle();

      expect(target.attemptsTo(FOLLOWER_A).map((a) => text(a.body))).toEqual([
        joined(1, 2, 3),
        body(1),
        body(2),
        body(3),
      ]);
      const parked = await gw.service.listParked({ limit: 10 });
      expect(parked).toEqual([expect.objectContaining({ streamSeq: 2, lastError: PERMANENT_REASON })]);
      expect(gw.metrics.counts()).toEqual({ delivered: 2, retried: 0, parked: 1 });
      // Requeued, the parked message goes alone again.
      expect(await gw.service.requeue(parked[0]!.id)).toBe(true);
      await gw.enqueue([message(FOLLOWER_A, ROOM_ONE, 4)]);
      await gw.worker.drainUntilIdle();
      expect(
        target
          .attemptsTo(FOLLOWER_A)
          .slice(4)
          .map((a) => text(a.body)),
      ).toEqual([body(2), body(4)]);
    });
  });

  describe('running in the background', () => {
    it('delivers new rows at once when they are committed (no poll needed)', async () => {
      const gw = gateway(gatewayConfig({ pollIntervalMs: 3_600_000 }));
      // Let the worker finish its first (empty) look for work and go to sleep for an hour.
      let firstLookDone!: () => void;
      const firstLook = new Promise<void>((resolve) => (firstLookDone = resolve));
      const claim = gw.outbox.claimStreams.bind(gw.outbox);
      jest.spyOn(gw.outbox, 'claimStreams').mockImplementation(async (...args) => {
        const leases = await claim(...args);
        firstLookDone();
        return leases;
      });
      gw.worker.start();
      try {
        await firstLook;
        await gw.enqueue([message(FOLLOWER_A, ROOM_ONE, 1)]);

        await target.waitFor(() => receivers.effects.length === 1, WAIT_MS, 'the new row to be delivered');
      } finally {
        await gw.worker.stop();
      }
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual(expectedBodies(FOLLOWER_A, ROOM_ONE, 1));
    });

    it('finds rows written by another process by polling', async () => {
      const gw = gateway(gatewayConfig({ pollIntervalMs: 20 }));
      const otherProcess = new OutboxService(gw.outbox, new OutboxNotifier());
      gw.worker.start();
      try {
        await gw.transactions.run((tx) => otherProcess.enqueue(tx, message(FOLLOWER_A, ROOM_ONE, 1)));

        await target.waitFor(() => receivers.effects.length === 1, WAIT_MS, 'the polled row to be delivered');
      } finally {
        await gw.worker.stop();
      }
    });

    it('stops gracefully: finishes the delivery in flight, records it and releases the stream', async () => {
      let answer!: (outcome: DeliveryOutcome) => void;
      const answered = new Promise<DeliveryOutcome>((resolve) => (answer = resolve));
      const slowPeer = new ScriptedDeliveryTarget(clock, { onReceived: receivers.onReceived });
      const gw = new Gateway(dataSource, gatewayConfig({}), slowPeer, clock, {
        random: TOP_OF_RANGE,
        leaseMs: LEASE_MS,
        owner: 'gw-1',
      });
      const deliver = slowPeer.deliver.bind(slowPeer);
      jest.spyOn(slowPeer, 'deliver').mockImplementation(async (d) => {
        await deliver(d);
        return answered;
      });
      await gw.enqueue(range(2).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));
      gw.worker.start();
      await slowPeer.waitFor(() => slowPeer.attempts.length === 1, WAIT_MS, 'the first delivery to start');

      let stopped = false;
      const stopping = gw.worker.stop().then(() => (stopped = true));
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(stopped).toBe(false);
      answer({ kind: 'delivered', status: 201 });
      await stopping;

      expect(slowPeer.attempts).toHaveLength(1);
      const first = await gw.outbox.findByIdempotencyKey(message(FOLLOWER_A, ROOM_ONE, 1).idempotencyKey);
      expect(first?.status).toBe(OutboxStatus.Delivered);
      const successor = new OutboxRepository(new TransactionRunner(dataSource), clock);
      expect(await successor.claimStreams('gw-2', 10, LEASE_MS)).toEqual([
        expect.objectContaining({ pendingCount: 1 }),
      ]);
    });
  });

  describe('a stream claimed again while its drain is finishing', () => {
    it('is drained at once, not left leased and idle until the lease expires', async () => {
      const gw = gateway();
      await gw.enqueue([message(FOLLOWER_A, ROOM_ONE, 1)]);
      // Row 2 arrives while the drain of row 1 gives the stream back; the claim that follows comes
      // before that drain has ended (another fillSlots of the loop, woken by the enqueue).
      const markAllDelivered = gw.outbox.markAllDelivered.bind(gw.outbox);
      let reclaimed = 0;
      gw.outbox.markAllDelivered = async (...args) => {
        const recorded = await markAllDelivered(...args);
        if (reclaimed === 0) {
          await gw.enqueue([message(FOLLOWER_A, ROOM_ONE, 2)]);
          reclaimed = await (gw.worker as unknown as { fillSlots(): Promise<number> }).fillSlots();
        }
        return recorded;
      };

      await gw.worker.drainOnce();

      expect(reclaimed).toBe(1);
      expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual(expectedBodies(FOLLOWER_A, ROOM_ONE, 2));
      expect((await gw.outbox.pendingDepthByDestination()).get(FOLLOWER_A)).toBe(0);
    });
  });

  describe('crash recovery', () => {
    it('resumes a stream left leased by a crashed process once the lease expires; the receiver dedupes the resend', async () => {
      const database = dataSource.database;
      const crashedDb = await database.open();
      const survivorDb = await database.open();
      const crashedPeer = new ScriptedDeliveryTarget(clock, { onReceived: receivers.onReceived });
      // Row 1 goes through; row 2 reaches the receiver but the process dies before the answer.
      crashedPeer.script(FOLLOWER_A, DELIVERED, HANG);
      const crashed = new Gateway(crashedDb, gatewayConfig({}), crashedPeer, clock, {
        random: TOP_OF_RANGE,
        leaseMs: LEASE_MS,
        owner: 'crashed',
      });
      const survivor = new Gateway(survivorDb, gatewayConfig({}), target, clock, {
        random: TOP_OF_RANGE,
        leaseMs: LEASE_MS,
        owner: 'survivor',
      });
      try {
        await crashed.enqueue(range(4).map((n) => message(FOLLOWER_A, ROOM_ONE, n)));
        void crashed.worker.drainOnce().catch(() => undefined);
        await crashedPeer.waitFor(() => crashedPeer.attempts.length === 2, WAIT_MS, 'the second delivery to start');
        await receiversSettled(receivers, 2);
        await crashedDb.destroy();

        expect(await survivor.worker.drainOnce()).toBe(0);
        clock.advance(LEASE_MS);
        await survivor.worker.drainUntilIdle();

        const expected = expectedBodies(FOLLOWER_A, ROOM_ONE, 4);
        expect(receivers.received.map((d) => text(d.body))).toEqual([expected[0], expected[1], ...expected.slice(1)]);
        expect(receivers.effectsOf(FOLLOWER_A, ROOM_ONE)).toEqual(expected);
        expect((await survivor.outbox.pendingDepthByDestination()).get(FOLLOWER_A)).toBe(0);
      } finally {
        if (crashedDb.isInitialized) await crashedDb.destroy();
        await survivorDb.destroy();
      }
    });
  });
});

/**
 * onReceived is async (it writes to the database); wait until `n` deliveries were processed, for
 * up to 10 s (a fixed number of event-loop turns was too short for a PostgreSQL write under load).
 */
async function receiversSettled(receivers: FakeReceivers, n: number): Promise<void> {
  const until = Date.now() + 10_000;
  while (receivers.effects.length < n && Date.now() < until) {
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
  expect(receivers.effects).toHaveLength(n);
}

describe('OutboxWorker: two processes on one PostgreSQL database', () => {
  const ROOMS = range(6).map((i) => `mimi://gw.test/r/busy-${i}` as RoomUri);
  const MESSAGES_PER_ROOM = 30;
  const FAILURE_RATE = 0.1;

  /** Deterministic pseudo-random numbers (a linear congruential generator). */
  function seeded(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
  }

  it('never delivers one stream from two workers at once, nor out of order', async () => {
    const database = await TestDatabase.create('postgres');
    const first = await database.open();
    const second = await database.open();
    try {
      await runMigrations(first, SILENT_LOGGER);
      const clock = new SystemClock();
      const receivers = new FakeReceivers(new InboundDedupeRepository(new TransactionRunner(first), clock));
      const random = seeded(42);
      const peer = new ScriptedDeliveryTarget(clock, {
        onReceived: receivers.onReceived,
        latency: async () => {
          for (let turns = Math.floor(random() * 4); turns > 0; turns -= 1) await new Promise((r) => setImmediate(r));
        },
        fallback: () => (random() < FAILURE_RATE ? { kind: 'retry', reason: 'HTTP 503' } : DELIVERED),
      });
      // Small batches make workers release streams often, so streams change hands mid-way.
      const config = gatewayConfig({
        concurrency: 3,
        batchSize: 4,
        pollIntervalMs: 10,
        initialBackoffMs: 1,
        maxBackoffMs: 20,
      });
      const one = new Gateway(first, config, peer, clock, { owner: 'process-1' });
      const two = new Gateway(second, config, peer, clock, { owner: 'process-2' });
      one.worker.start();
      two.worker.start();
      try {
        for (const n of range(MESSAGES_PER_ROOM)) await one.enqueue(ROOMS.map((r) => message(FOLLOWER_A, r, n)));
        const total = ROOMS.length * MESSAGES_PER_ROOM;
        await peer.waitFor(() => receivers.effects.length === total, 60_000, `${total} deliveries`);
      } finally {
        await Promise.all([one.worker.stop(), two.worker.stop()]);
      }

      expect(peer.overlaps).toEqual([]);
      for (const room of ROOMS) {
        expect(receivers.effectsOf(FOLLOWER_A, room)).toEqual(expectedBodies(FOLLOWER_A, room, MESSAGES_PER_ROOM));
      }
      expect(one.metrics.counts().delivered).toBeGreaterThan(0);
      expect(two.metrics.counts().delivered).toBeGreaterThan(0);
      expect(one.metrics.counts().delivered + two.metrics.counts().delivered).toBe(ROOMS.length * MESSAGES_PER_ROOM);
    } finally {
      await first.destroy();
      await second.destroy();
      await database.drop();
    }
  });
});
