import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { CLOCK, Clock } from '../common/clock';
import { crashPoint } from '../common/crash-points';
import { errorMessage } from '../common/errors';
import { GatewayConfig, OutboxConfig } from '../config/gateway-config';
import { DELIVERY_TARGET, DeliveryOutcome, DeliveryTarget } from '../ports/delivery-target.port';
import { OutboxEntry, OutboxRepository, StreamLease } from '../persistence/repositories/outbox.repository';
import { isMimiEndpoint } from './mimi-endpoints';
import { OutboxMetrics } from './outbox-metrics';
import { OutboxNotifier, type OutboxWakeListener } from './outbox-notifier';
import { nextRetryDelayMs } from './retry-policy';

export const OUTBOX_WORKER_OPTIONS = Symbol('OUTBOX_WORKER_OPTIONS');

export interface OutboxWorkerOptions {
  /** Lease owner name; unique per process (default: host, pid and a random suffix). */
  readonly owner?: string;
  /** Start delivering on application bootstrap (default true). */
  readonly autoStart?: boolean;
  /** How long a claimed stream stays ours without renewal (default: see defaultLeaseMs). */
  readonly leaseMs?: number;
  /** Uniform [0, 1) source for the backoff jitter (default Math.random). */
  readonly random?: () => number;
}

/** Floor of the default lease, so a short request timeout does not make leases flap. */
const MIN_LEASE_MS = 10_000;
/** Owner names are stored in a varchar(64). */
const MAX_OWNER_LENGTH = 64;

/**
 * A lease must outlast one delivery attempt (bounded by requestTimeoutMs) plus the database
 * writes around it, because it is renewed only between attempts. Twice the timeout leaves room.
 */
function defaultLeaseMs(config: OutboxConfig): number {
  return Math.max(2 * config.requestTimeoutMs, MIN_LEASE_MS);
}

function defaultOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`.slice(-MAX_OWNER_LENGTH);
}

type State = 'idle' | 'running' | 'stopping' | 'stopped';

/** A request of a stream that was sent, and its answer to come. */
interface Sent {
  readonly group: OutboxEntry[];
  readonly outcome: Promise<DeliveryOutcome>;
}

/** Pages of rows (pipelineDepth requests' worth) a pipelined pass may take before giving the stream back. */
const PIPELINE_PAGES_PER_PASS = 4;

/**
 * Drains the outbox through the DeliveryTarget (ARCHITECTURE §2 flow 2):
 * - each (destination, room) stream strictly in order: a worker leases the whole stream and
 *   sends its pending rows head first; a failed head waits for its retry and holds back only
 *   its own stream; to a peer that applies `/notify` in stream order, up to
 *   `outbox.pipelineDepth` requests of the stream are in flight at once (drainStream, README
 *   "Pipelining");
 * - up to `outbox.concurrency` streams at once, other destinations and rooms in parallel;
 * - retries with exponential backoff and full jitter (retry-policy.ts), never sooner than the
 *   peer's Retry-After, always with the same stored bytes;
 * - a permanent rejection parks the row with its reason and the stream goes on; a 401/403 (the
 *   peer does not accept us) is retried like a 5xx, logged at error and counted for alerting;
 * - woken at once by OutboxNotifier for local rows, polling every `outbox.pollIntervalMs` for
 *   due retries and other processes' rows; streams held by a crashed process come back when
 *   its lease expires.
 * Several processes may run workers on one PostgreSQL database (claims skip each other's
 * streams). Delivery is at least once: a crash between sending and recording resends the same
 * bytes, which the receiver recognises (byte-identical de-duplication).
 */
@Injectable()
export class OutboxWorker implements OnApplicationBootstrap, BeforeApplicationShutdown, OutboxWakeListener {
  private readonly logger = new Logger(OutboxWorker.name);
  readonly owner: string;
  private readonly settings: OutboxConfig;
  /** Per-peer `coalesceMaxMessages` (peers[].coalesceMaxMessages), over outbox.coalesceMaxMessages. */
  private readonly coalescePerPeer: ReadonlyMap<string, number>;
  private readonly leaseMs: number;
  private readonly random: () => number;
  private readonly autoStart: boolean;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Destinations that said they apply `/notify` in stream order (pipelining, see drainStream). */
  private readonly orderedPeers = new Set<string>();
  private state: State = 'idle';
  private loop?: Promise<void>;
  private wakeRequested = false;
  private wakeUp?: () => void;
  private unsubscribe?: () => void;

  constructor(
    config: GatewayConfig,
    private readonly outbox: OutboxRepository,
    @Inject(DELIVERY_TARGET) private readonly target: DeliveryTarget,
    private readonly notifier: OutboxNotifier,
    private readonly metrics: OutboxMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() @Inject(OUTBOX_WORKER_OPTIONS) options: OutboxWorkerOptions = {},
  ) {
    this.settings = config.outbox;
    this.coalescePerPeer = new Map(
      config.peers.flatMap((p) => (p.coalesceMaxMessages === undefined ? [] : [[p.domain, p.coalesceMaxMessages]])),
    );
    this.leaseMs = options.leaseMs ?? defaultLeaseMs(config.outbox);
    this.owner = (options.owner ?? defaultOwner()).slice(0, MAX_OWNER_LENGTH);
    this.random = options.random ?? Math.random;
    this.autoStart = options.autoStart ?? true;
  }

  onApplicationBootstrap(): void {
    if (this.autoStart) this.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Start the delivery loop in the background. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.unsubscribe = this.notifier.register(this);
    this.loop = this.runLoop();
    this.logger.log(`delivering (owner ${this.owner}, ${this.settings.concurrency} streams at once)`);
  }

  /**
   * Stop: no new streams or rows are started, deliveries in flight finish and are recorded, and
   * every stream is released for other workers.
   */
  async stop(): Promise<void> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      return;
    }
    if (this.state === 'running') {
      this.state = 'stopping';
      this.unsubscribe?.();
      this.wake();
    }
    await this.loop;
    await this.settled();
    if (this.state === 'stopping') {
      this.state = 'stopped';
      this.logger.log(`stopped (owner ${this.owner})`);
    }
  }

  /** Look for work now rather than at the next poll. */
  wake(): void {
    this.wakeRequested = true;
    this.wakeUp?.();
  }

  /**
   * One pass without the background loop (for tests and tools): claim the due streams that fit
   * in free slots, deliver them, and resolve when they are done.
   * @returns how many streams were claimed
   */
  async drainOnce(): Promise<number> {
    const claimed = await this.fillSlots();
    await this.settled();
    return claimed;
  }

  /** Until no drain is in flight (one may chain another, see fillSlots). */
  private async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
  }

  /** drainOnce until a pass finds nothing due (rows waiting for a later retry stay). */
  async drainUntilIdle(maxPasses = 10_000): Promise<void> {
    for (let pass = 0; pass < maxPasses; pass += 1) {
      if ((await this.drainOnce()) === 0) return;
    }
    throw new Error(`outbox still had due streams after ${maxPasses} passes`);
  }

  private async runLoop(): Promise<void> {
    while (this.state === 'running') {
      this.wakeRequested = false;
      try {
        await this.fillSlots();
      } catch (e) {
        this.logger.error(`claiming outbox streams failed: ${errorMessage(e)}`);
      }
      if (this.state !== 'running') break;
      if (!this.wakeRequested) await this.sleep(this.settings.pollIntervalMs);
    }
  }

  /** Wait for a wake-up or the poll interval, whichever comes first. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakeUp = done;
    });
  }

  private async fillSlots(): Promise<number> {
    const free = this.settings.concurrency - this.inFlight.size;
    if (free <= 0 || this.stopRequested()) return 0;
    const leases = await this.outbox.claimStreams(this.owner, free, this.leaseMs);
    for (const lease of leases) {
      const key = `${lease.destination} ${lease.roomUri}`;
      // A stream still in flight was claimed again: its drain gave it back (or its lease lapsed)
      // before that drain ended. The claim is ours, so drain once more after it, rather than leave
      // the stream leased and idle until the lease expires.
      const running = this.inFlight.get(key);
      const drain: Promise<void> = (running ?? Promise.resolve())
        .then(() => this.drainStream(lease))
        .finally(() => {
          if (this.inFlight.get(key) === drain) this.inFlight.delete(key);
          this.wake();
        });
      this.inFlight.set(key, drain);
    }
    return leases.length;
  }

  private stopRequested(): boolean {
    return this.state === 'stopping' || this.state === 'stopped';
  }

  /**
   * Deliver the rows of one leased stream, head first: `outbox.batchSize` rows; to a peer that
   * applies `/notify` requests in stream order (it said so), up to `outbox.pipelineDepth` requests
   * at once and up to PIPELINE_PAGES_PER_PASS pages of rows. Answers are recorded in the order the
   * requests were sent; the first one that is not a delivery ends the pass (see halt).
   */
  private async drainStream(lease: StreamLease): Promise<void> {
    const stream = `destination=${lease.destination} roomUri=${lease.roomUri}`;
    if (lease.previousOwner !== null && lease.previousOwner !== this.owner) {
      this.logger.log(`took over ${stream} from ${lease.previousOwner} (its lease expired)`);
    }
    const maxMessages = this.coalescePerPeer.get(lease.destination) ?? this.settings.coalesceMaxMessages;
    const page = Math.max(this.settings.batchSize, this.settings.pipelineDepth * maxMessages);
    const sent: Sent[] = [];
    let keepLease = true;
    try {
      let rows = await this.outbox.pendingEntries(lease, this.settings.batchSize);
      if (rows.length === 0) {
        const pending = await this.outbox.recountStream(lease);
        this.logger.warn(`${stream} was counted as pending but had no pending row; recounted ${pending}`);
      }
      let next = 0;
      let taken = rows.length;
      let lastFull = rows.length === this.settings.batchSize;
      let lastSeq = 0;
      // Pipelining only: another page when this one is used up, within the pass's share.
      const mayTakeMore = (): boolean =>
        this.depthFor(lease.destination) > 1 && lastFull && taken < page * PIPELINE_PAGES_PER_PASS;
      for (;;) {
        while (!this.stopRequested()) {
          if (next >= rows.length) {
            if (!mayTakeMore()) break;
            rows = await this.outbox.pendingEntriesAfter(lease, lastSeq, page);
            next = 0;
            taken += rows.length;
            lastFull = rows.length === page;
            if (rows.length === 0) break;
          }
          if (!this.maySendNow(lease.destination, sent, rows[next]!)) break;
          const group = await this.nextGroup(lease, rows, next, maxMessages);
          const inRows = new Set(group.map((g) => g.id));
          while (next < rows.length && inRows.has(rows[next]!.id)) next += 1;
          lastSeq = Math.max(lastSeq, group[group.length - 1]!.streamSeq);
          const after = sent.length > 0 ? sent[sent.length - 1]!.group.at(-1)!.streamSeq : undefined;
          sent.push({ group, outcome: this.attempt(group, after) });
        }
        const current = sent.shift();
        if (current === undefined) break;
        const { group } = current;
        const outcome = await current.outcome;
        const entry = group[0]!;
        const ids =
          `outboxId=${entry.id} ${stream} seq=${entry.streamSeq}` +
          (group.length > 1 ? `..${group[group.length - 1]!.streamSeq} (${group.length} messages)` : '') +
          ` attempt=${entry.attempts + 1}`;
        if (outcome.kind === 'delivered') {
          this.learnOrder(lease.destination, entry, outcome.streamOrdered === true);
          crashPoint('after-send-before-mark-delivered');
          // After the last rows of this pass the stream is given back in the same transaction.
          const last = sent.length === 0 && next >= rows.length && !mayTakeMore();
          const recorded = await this.outbox.markAllDelivered(group, this.owner, this.leaseMs, last);
          for (const latency of recorded.latenciesMs) this.metrics.recordDelivered(lease.destination, latency);
          this.logger.debug(`delivered ${ids} status=${outcome.status}`);
          if (!recorded.leaseHeld) {
            await this.halt(lease, sent);
            return this.lostLease(stream);
          }
          if (last) keepLease = false;
          continue;
        }
        const tookLater = await this.halt(lease, sent);
        if (outcome.kind === 'permanent') {
          if (group.length > 1) {
            // One of them may be the bad one: from now on each is sent alone.
            this.logger.warn(`${ids}: refused as a whole (${outcome.reason}); sending them one by one`);
            await this.outbox.splitBatch(group);
            return;
          }
          this.logger.warn(`parked ${ids}: ${outcome.reason}`);
          const recorded = await this.outbox.park(entry, outcome.reason, this.owner, this.leaseMs);
          this.metrics.recordParked(lease.destination);
          if (!recorded.leaseHeld) return this.lostLease(stream);
          // With later requests answered out of turn (halt), the pass ends; the stream is due again now.
          if (tookLater) return;
          continue;
        }
        const delay = nextRetryDelayMs(entry.attempts + 1, this.settings, this.random, outcome.retryAfterMs);
        if (outcome.peerAuthStatus === undefined) {
          this.logger.debug(`retrying ${ids} in ${delay} ms: ${outcome.reason}`);
        } else {
          // Not the row's fault: the peer does not accept us. An operator must act; the
          // stream waits (RELIABILITY T21).
          this.logger.error(
            `${lease.destination} refused us (${outcome.reason}): check our certificate and its directory; retrying ${ids} in ${delay} ms`,
          );
          this.metrics.recordPeerAuthFailure(lease.destination);
        }
        await this.outbox.scheduleRetry(entry, this.clock.now() + delay, outcome.reason, this.owner);
        this.metrics.recordRetried(lease.destination);
        keepLease = false;
        return;
      }
    } catch (e) {
      // Most likely the database is unreachable; the lease lapses if the release fails too.
      this.logger.error(`delivering ${stream} failed: ${errorMessage(e)}`);
    } finally {
      // Never leave requests of this stream running behind the pass (stop() waits for passes).
      await Promise.all(sent.map((s) => s.outcome));
      if (keepLease) await this.release(lease, stream);
    }
  }

  /**
   * The stream stops at a request that was not delivered. The requests sent after it are waited
   * for: one the peer acknowledged is recorded as delivered (a peer that orders the stream applied
   * it after the failed one, which it has therefore applied too); the others are left as they were
   * (no attempt counted) and are sent again, in order, after the failed one. Recorded before the
   * failed one, whose retry time must be the stream's last word.
   */
  private async halt(lease: StreamLease, sent: Sent[]): Promise<boolean> {
    const later = sent.splice(0);
    for (const { group, outcome } of later) {
      const o = await outcome;
      if (o.kind !== 'delivered') continue;
      const recorded = await this.outbox.markAllDelivered(group, this.owner, this.leaseMs);
      for (const latency of recorded.latenciesMs) this.metrics.recordDelivered(lease.destination, latency);
    }
    return later.length > 0;
  }

  /** How many `/notify` requests of a stream to `destination` may be in flight. */
  private depthFor(destination: string): number {
    return this.orderedPeers.has(destination) ? this.settings.pipelineDepth : 1;
  }

  /** Whether `head` may be sent while `sent` are unanswered: only `/notify` to a peer that orders them. */
  private maySendNow(destination: string, sent: readonly Sent[], head: OutboxEntry): boolean {
    if (sent.length === 0) return true;
    if (sent.length >= this.depthFor(destination)) return false;
    return head.endpoint === 'notify' && sent[0]!.group[0]!.endpoint === 'notify';
  }

  /** A `/notify` answer says whether the peer applies pipelined requests in stream order. */
  private learnOrder(destination: string, entry: OutboxEntry, ordered: boolean): void {
    if (entry.endpoint !== 'notify') return;
    if (ordered && !this.orderedPeers.has(destination)) {
      this.orderedPeers.add(destination);
      this.logger.log(
        `${destination} applies /notify in stream order: up to ${this.settings.pipelineDepth} requests per room at once`,
      );
    } else if (!ordered && this.orderedPeers.delete(destination)) {
      this.logger.warn(
        `${destination} no longer says it applies /notify in stream order: one request per room at a time`,
      );
    }
  }

  /**
   * The rows to send next, starting at `rows[from]`: a batch attempted before is sent again exactly
   * as it was (same rows, same order: byte-identical); otherwise, when the head was never
   * attempted, it and the following never-attempted `/notify` rows are combined up to
   * `outbox.coalesceMaxMessages` (or the peer's own) / `coalesceMaxBytes` (protocol-06 §5.5 concatenated
   * FanoutMessages) and bound into a new batch before the first attempt.
   */
  private async nextGroup(
    lease: StreamLease,
    rows: readonly OutboxEntry[],
    from: number,
    maxMessages: number,
  ): Promise<OutboxEntry[]> {
    const head = rows[from]!;
    if (head.batchId !== null) {
      const batch = await this.outbox.batchEntries(lease, head.batchId);
      return batch[0]?.id === head.id ? batch : [head];
    }
    if (head.attempts > 0 || head.endpoint !== 'notify') return [head];
    const group = [head];
    let bytes = head.body.length;
    for (let i = from + 1; i < rows.length && group.length < maxMessages; i++) {
      const row = rows[i]!;
      if (row.batchId !== null || row.attempts > 0 || row.endpoint !== 'notify') break;
      if (bytes + row.body.length > this.settings.coalesceMaxBytes) break;
      group.push(row);
      bytes += row.body.length;
    }
    if (group.length === 1) return group;
    return (await this.outbox.assignBatch(group, randomUUID())) ? group : [head];
  }

  private lostLease(stream: string): void {
    this.logger.warn(`lost the lease on ${stream} (another worker took it over); stopping it here`);
  }

  private async release(lease: StreamLease, stream: string): Promise<void> {
    try {
      await this.outbox.releaseStream(lease, this.owner);
    } catch (e) {
      this.logger.error(`releasing ${stream} failed (its lease will expire): ${errorMessage(e)}`);
    }
  }

  /**
   * One delivery attempt, bounded by `outbox.requestTimeoutMs` even if the target ignores the
   * abort signal: the lease is only safe while attempts are bounded.
   */
  private async attempt(group: readonly OutboxEntry[], after: number | undefined): Promise<DeliveryOutcome> {
    const entry = group[0]!;
    if (!isMimiEndpoint(entry.endpoint)) {
      return { kind: 'permanent', reason: `unknown MIMI endpoint ${entry.endpoint}` };
    }
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DeliveryOutcome>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ kind: 'retry', reason: `no answer within ${this.settings.requestTimeoutMs} ms` });
      }, this.settings.requestTimeoutMs);
      timer.unref();
    });
    try {
      const delivery = {
        id: entry.id,
        destination: entry.destination,
        endpoint: entry.endpoint,
        roomUri: entry.roomUri,
        body: group.length === 1 ? entry.body : Buffer.concat(group.map((g) => g.body)),
        attempt: entry.attempts + 1,
        ...(entry.endpoint === 'notify'
          ? { streamOrder: { last: group[group.length - 1]!.streamSeq, ...(after === undefined ? {} : { after }) } }
          : {}),
      };
      return await Promise.race([this.target.deliver(delivery, controller.signal), timeout]);
    } catch (e) {
      // The port says deliver() never throws; if it does, the outcome is unknown: retry.
      return { kind: 'retry', reason: `delivery failed: ${errorMessage(e)}` };
    } finally {
      clearTimeout(timer);
    }
  }
}
