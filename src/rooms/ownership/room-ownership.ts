import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { CLOCK, type Clock } from '../../common/clock';
import { ConfigError, errorMessage } from '../../common/errors';
import type { RoomUri } from '../../common/ids';
import { MetricsRegistry } from '../../common/metrics';
import { ClusterConfig } from '../../config/cluster-config';
import { GatewayConfig } from '../../config/gateway-config';
import { groupIdForRoom } from '../../mls';
import { RoomLeaseRepository } from '../../persistence/repositories/room-lease.repository';
import { RoomTransactions } from '../../persistence/room-transactions';
import type { Tx } from '../../persistence/transaction-runner';
import { MlsGroups } from '../mls-groups';
import { RoomElsewhereError } from './room-elsewhere.error';

/** A lease this process holds, as it sees it. */
interface Held {
  epoch: number;
  expiresAt: number;
  lastUsed: number;
  /** Room work running under this lease now (an idle release waits for 0). */
  active: number;
}

/** The room work of the current call chain and the fencing token it runs under. */
interface Ambient {
  readonly roomUri: string;
  readonly epoch: number;
  ended: boolean;
}

/** The shortest Retry-After we ask for (a lease just released may be free a moment later). */
const MIN_RETRY_MS = 1_000;

/** The `room_lease` row of the ingress lease (`cluster.ingress: lease`); not a room URI. */
const INGRESS_LEASE = 'ingress:bridges';

/**
 * Which rooms this gateway process owns when several share one PostgreSQL database
 * (`cluster.enabled`; README.md here). `RoomLocks.run` calls `run` for every room's work:
 *
 * - the room's lease is taken on first use (when free or expired) and kept while the process
 *   renews it (every third of `cluster.leaseTtlMs`); a room nobody used for `idleReleaseMs` is
 *   released; a lease held by a live other process makes `run` throw `RoomElsewhereError`;
 * - every transaction the work opens first checks, in that transaction, that this process still
 *   holds the lease at the epoch it took it with (the fencing token): a process that lost the
 *   room (it stalled past the expiry and another took over) cannot write to it any more;
 * - when the room comes (back) to this process, what it cached of the room (its MLS group state)
 *   is dropped first and reloaded from the database.
 *
 * Disabled (SQLite, or one process): `enabled` is false and `RoomLocks` never calls in.
 */
@Injectable()
export class RoomOwnership implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RoomOwnership.name);
  readonly enabled: boolean;
  /** This process's name in `room_lease.owner`. */
  readonly owner: string;
  private readonly ttlMs: number;
  private readonly idleReleaseMs: number;
  /** `cluster.ingress: lease`: only the holder of the ingress lease runs the bridges and serves rooms. */
  readonly ingressGated: boolean;
  private ingress?: { epoch: number; expiresAt: number };
  private ingressListener?: (held: boolean) => Promise<void>;
  private readonly held = new Map<string, Held>();
  private readonly ambient = new AsyncLocalStorage<Ambient>();
  private readonly movedListeners: ((roomUri: string) => void)[] = [];
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;

  constructor(
    config: GatewayConfig,
    private readonly leases: RoomLeaseRepository,
    transactions: RoomTransactions,
    private readonly groups: MlsGroups,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() registry?: MetricsRegistry,
  ) {
    const cluster = config.cluster ?? new ClusterConfig();
    this.enabled = cluster.enabled;
    if (this.enabled && config.database.type !== 'postgres') {
      throw new ConfigError([
        { keyPath: 'cluster.enabled', expected: 'false unless database.type is postgres (SQLite serves one process)' },
      ]);
    }
    this.owner = cluster.processName ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
    this.ttlMs = cluster.leaseTtlMs;
    this.idleReleaseMs = cluster.idleReleaseMs;
    this.ingressGated = this.enabled && cluster.ingress === 'lease';
    if (!this.enabled) return;
    transactions.onBegin((tx) => this.fence(tx));
    registry?.gauge('mimi_rooms_owned', 'Rooms whose lease this gateway process holds (scale-out)', () => [
      { labels: {}, value: this.held.size },
    ]);
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.logger.log(`scale-out: this process is ${this.owner}; room leases last ${this.ttlMs} ms`);
    this.timer = setInterval(() => void this.renewNow(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Stop renewing and give every room up at once, so that the other processes take them without waiting for expiry. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.enabled || this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    const rooms = [...this.held.keys(), ...(this.ingress === undefined ? [] : [INGRESS_LEASE])];
    this.held.clear();
    this.ingress = undefined;
    try {
      await this.leases.release(this.owner, rooms, this.clock.now());
      this.logger.log(`released ${rooms.length} room lease(s)`);
    } catch (e) {
      this.logger.warn(`could not release room leases (they expire on their own): ${errorMessage(e)}`);
    }
  }

  /** `listener` hears of every room that came to this process or left it (its caches of the room are stale). */
  onMoved(listener: (roomUri: string) => void): void {
    this.movedListeners.push(listener);
  }

  /**
   * With `cluster.ingress: lease`: try to take the ingress lease now and on every renewal;
   * `listener(true)` when this process took it (start the bridges), `listener(false)` when it lost
   * it (stop them; its rooms are given up too). Called once, by RoomsService at start.
   */
  async watchIngress(listener: (held: boolean) => Promise<void>): Promise<void> {
    this.ingressListener = listener;
    await this.renewIngress();
  }

  /** Whether this process holds the ingress lease (always false unless `ingressGated`). */
  holdsIngress(): boolean {
    return this.ingress !== undefined && this.ingress.expiresAt > this.clock.now();
  }

  /** The rooms this process holds now. */
  ownedRooms(): string[] {
    return [...this.held.keys()];
  }

  /**
   * Run `work` as the room's owner: take or confirm the lease, then run it with the fencing
   * token every transaction it opens checks. Called by `RoomLocks.run`, inside the room's lock.
   * @throws RoomElsewhereError when another live process holds the room (or this one is stopping)
   */
  async run<T>(roomUri: string, work: () => Promise<T>): Promise<T> {
    const held = await this.claim(roomUri);
    const ambient: Ambient = { roomUri, epoch: held.epoch, ended: false };
    held.active += 1;
    try {
      return await this.ambient.run(ambient, work);
    } finally {
      ambient.ended = true;
      held.active -= 1;
      held.lastUsed = this.clock.now();
    }
  }

  private async claim(roomUri: string): Promise<Held> {
    if (this.stopped) throw new RoomElsewhereError(roomUri, '(this process is stopping)', MIN_RETRY_MS);
    if (this.ingressGated && !this.holdsIngress()) {
      throw new RoomElsewhereError(roomUri, '(the ingress holder)', Math.max(MIN_RETRY_MS, Math.floor(this.ttlMs / 3)));
    }
    const now = this.clock.now();
    const mine = this.held.get(roomUri);
    // Renewal keeps a lease between 2/3 and all of its time; less than a quarter left means the
    // renewal is late, and the database decides.
    if (mine !== undefined && mine.expiresAt - now > this.ttlMs / 4) {
      mine.lastUsed = now;
      return mine;
    }
    const result = await this.leases.acquire(roomUri, this.owner, now, this.ttlMs);
    if (result.kind === 'elsewhere') {
      if (mine !== undefined) this.lost(roomUri, 'taken by another process');
      this.logger.debug(`room ${roomUri} is owned by ${result.owner} until ${result.expiresAt}`);
      throw new RoomElsewhereError(
        roomUri,
        result.owner,
        Math.min(this.ttlMs, Math.max(MIN_RETRY_MS, result.expiresAt - now)),
      );
    }
    if (mine !== undefined && mine.epoch === result.epoch) {
      mine.expiresAt = result.expiresAt;
      mine.lastUsed = now;
      return mine;
    }
    // The room is new to this process, or changed hands since we held it: what we cached is stale.
    this.moved(roomUri);
    const fresh: Held = { epoch: result.epoch, expiresAt: result.expiresAt, lastUsed: now, active: 0 };
    this.held.set(roomUri, fresh);
    this.logger.debug(`room ${roomUri} is ours (epoch ${result.epoch})`);
    return fresh;
  }

  /** The fencing check, first in every room transaction (RoomTransactions.onBegin). */
  private async fence(tx: Tx): Promise<void> {
    const ambient = this.ambient.getStore();
    if (ambient === undefined || ambient.ended) return;
    if (await this.leases.fence(tx, ambient.roomUri, this.owner, ambient.epoch)) return;
    if (this.held.get(ambient.roomUri)?.epoch === ambient.epoch) this.lost(ambient.roomUri, 'fencing token stale');
    throw new RoomElsewhereError(ambient.roomUri, '(unknown)', MIN_RETRY_MS);
  }

  /** Renew the leases, learn of lost ones, release idle ones (the timer's work; one pass at a time). */
  async renewNow(): Promise<void> {
    if (this.ticking !== undefined || this.stopped) return;
    this.ticking = this.renewIngress()
      .then(() => this.renewAndRelease())
      .catch((e: unknown) => this.logger.warn(`room lease renewal failed: ${errorMessage(e)}`))
      .finally(() => (this.ticking = undefined));
    await this.ticking;
  }

  private async renewAndRelease(): Promise<void> {
    const now = this.clock.now();
    const idle = [...this.held]
      .filter(([, h]) => h.active === 0 && now - h.lastUsed >= this.idleReleaseMs)
      .map(([room, h]) => ({ room, h, lastUsed: h.lastUsed }));
    if (idle.length > 0) {
      await this.leases.release(
        this.owner,
        idle.map((i) => i.room),
        now,
      );
      for (const { room, h, lastUsed } of idle) {
        if (this.held.get(room) !== h) continue;
        if (h.active === 0 && h.lastUsed === lastUsed) {
          this.held.delete(room);
          this.moved(room);
        } else h.expiresAt = 0; // used meanwhile: take it again (a new epoch) on next use
      }
    }
    const sent = [...this.held].map(([room, h]) => [room, h.epoch] as const);
    const renewed = await this.leases.renew(
      this.owner,
      sent.map(([room]) => room),
      this.clock.now(),
      this.ttlMs,
    );
    const still = new Map(renewed.map((l) => [l.roomUri, l]));
    for (const [room, epoch] of sent) {
      const h = this.held.get(room);
      if (h === undefined || h.epoch !== epoch) continue;
      const lease = still.get(room);
      if (lease !== undefined && lease.epoch === epoch) h.expiresAt = lease.expiresAt;
      else this.lost(room, 'not renewed (taken over)');
    }
  }

  /** Take or renew the ingress lease; tell the listener when it came or went. */
  private async renewIngress(): Promise<void> {
    if (!this.ingressGated || this.stopped) return;
    let result;
    try {
      result = await this.leases.acquire(INGRESS_LEASE, this.owner, this.clock.now(), this.ttlMs);
    } catch (e) {
      // Without the database we cannot know; past its expiry the lease counts as lost.
      if (this.ingress !== undefined && !this.holdsIngress()) await this.ingressLost('not renewed in time');
      throw e;
    }
    if (result.kind === 'held') {
      const fresh = this.ingress?.epoch !== result.epoch;
      this.ingress = { epoch: result.epoch, expiresAt: result.expiresAt };
      if (fresh) {
        this.logger.log(`this process takes the platforms' traffic (ingress lease, epoch ${result.epoch})`);
        await this.ingressListener?.(true);
      }
    } else if (this.ingress !== undefined) {
      await this.ingressLost(`taken by ${result.owner}`);
    }
  }

  private async ingressLost(why: string): Promise<void> {
    this.ingress = undefined;
    this.logger.warn(`ingress lease lost (${why}): stopping the bridges and giving up every room`);
    await this.ingressListener?.(false);
    const rooms = [...this.held.keys()];
    for (const room of rooms) this.lost(room, 'ingress lost');
    await this.leases.release(this.owner, rooms, this.clock.now());
  }

  private lost(roomUri: string, why: string): void {
    this.held.delete(roomUri);
    this.moved(roomUri);
    this.logger.warn(`room ${roomUri} is no longer ours: ${why}`);
  }

  /** Drop what this process cached of the room; it reloads from the database on next use. */
  private moved(roomUri: string): void {
    this.groups.store.forget(groupIdForRoom(roomUri as RoomUri));
    for (const listener of this.movedListeners) listener(roomUri);
  }
}
