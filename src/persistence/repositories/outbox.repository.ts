import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock } from '../../common/clock';
import type { ProviderDomain, RoomUri } from '../../common/ids';
import { toBytes, toNumber, toNumberOrNull, toStringOrNull } from '../sql';
import { SqlTx, TransactionRunner, Tx, sqlOf } from '../transaction-runner';

export enum OutboxStatus {
  Pending = 'pending',
  Delivered = 'delivered',
  /**
   * Written and read by the SQL below as the literal `'parked'`; listed so that the column's values are in one place.
   * @public
   */
  Parked = 'parked',
}

/** One ordered delivery stream: everything for one room, to one destination provider. */
export interface StreamKey {
  readonly destination: ProviderDomain;
  readonly roomUri: RoomUri;
}

/** A message to store for delivery. */
export interface NewOutboxEntry extends StreamKey {
  /** Unique across the outbox; appending a key that exists already stores nothing. */
  readonly idempotencyKey: string;
  /** MIMI endpoint name, e.g. `notify`. */
  readonly endpoint: string;
  /** The exact bytes to send, on every attempt. */
  readonly body: Uint8Array;
}

export interface OutboxEntryMeta extends StreamKey {
  readonly id: string;
  readonly idempotencyKey: string;
  readonly endpoint: string;
  readonly streamSeq: number;
  readonly status: OutboxStatus;
  /** Attempts made so far. */
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly deliveredAt: number | null;
  /**
   * Set on rows that were sent together in one request, from their first attempt on: they are
   * only ever sent together again, in stream order (byte-identical resends). NULL otherwise.
   */
  readonly batchId: string | null;
}

export interface OutboxEntry extends OutboxEntryMeta {
  readonly body: Uint8Array;
}

/** A parked row as the admin API lists it: everything but the bytes. */
export interface ParkedOutboxEntry extends OutboxEntryMeta {
  readonly bodyLength: number;
}

export interface AppendedOutboxEntry {
  readonly id: string;
  readonly idempotencyKey: string;
  readonly streamSeq: number;
  /** True when the key was already in the outbox: nothing was stored, `id`/`streamSeq` are the earlier row's. */
  readonly duplicate: boolean;
}

/** A stream this worker now holds, until `expiresAt` unless renewed. */
export interface StreamLease extends StreamKey {
  readonly owner: string;
  readonly expiresAt: number;
  readonly pendingCount: number;
  /** The owner whose lease had expired (a crashed or stalled worker), if any. */
  readonly previousOwner: string | null;
}

export interface LeaseState {
  /** False when another worker took the stream over (our lease had expired): stop delivering it. */
  readonly leaseHeld: boolean;
}

export interface DeliveredResult extends LeaseState {
  /** created → delivered, when this call recorded the delivery (not when the row was already done). */
  readonly latencyMs: number | null;
}

const ENTRY_META_COLUMNS =
  'id, idempotency_key, destination, room_uri, endpoint, stream_seq, status, attempts, next_attempt_at, last_error, created_at, delivered_at, batch_id';

/**
 * The durable outbox (RELIABILITY §4: transactional outbox). Rows are appended in the caller's
 * transaction next to the state change they announce; workers lease whole (destination, room)
 * streams and deliver the pending rows of a stream in `stream_seq` order.
 *
 * Methods that take no `tx` run in a transaction of their own. Times come from the Clock.
 */
@Injectable()
export class OutboxRepository {
  constructor(
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Store rows for delivery, in the caller's transaction. Each row gets the next position of its
   * (destination, room) stream, in the order given. Rows whose idempotency key is already stored
   * are skipped and reported as duplicates.
   */
  async append(tx: Tx, rows: readonly NewOutboxEntry[]): Promise<AppendedOutboxEntry[]> {
    const sql = sqlOf(tx);
    const now = this.clock.now();
    // Lock stream rows in one global order so that two transactions appending to the same
    // streams cannot deadlock on PostgreSQL. The sort is stable: order within a stream is kept.
    const order = rows.map((row, index) => ({ row, index })).sort((a, b) => compareStreams(a.row, b.row));
    const results: AppendedOutboxEntry[] = new Array<AppendedOutboxEntry>(rows.length);
    for (const { row, index } of order) {
      results[index] = await this.appendOne(sql, row, now);
    }
    return results;
  }

  private async appendOne(sql: SqlTx, row: NewOutboxEntry, now: number): Promise<AppendedOutboxEntry> {
    const existing = await this.findExisting(sql, row.idempotencyKey);
    if (existing) return existing;
    const allocated = await sql.query(
      `INSERT INTO outbox_stream (destination, room_uri, last_seq, pending_count, next_attempt_at, lease_owner, lease_expires_at)
       VALUES ($1, $2, 1, 0, NULL, NULL, NULL)
       ON CONFLICT (destination, room_uri) DO UPDATE SET last_seq = outbox_stream.last_seq + 1
       RETURNING last_seq`,
      [row.destination, row.roomUri],
    );
    const streamSeq = toNumber(allocated.rows[0]?.last_seq);
    const id = randomUUID();
    const inserted = await sql.query(
      `INSERT INTO outbox_entry (id, idempotency_key, destination, room_uri, endpoint, stream_seq, body, status,
         attempts, next_attempt_at, last_error, created_at, delivered_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, NULL, $8, NULL)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id`,
      [id, row.idempotencyKey, row.destination, row.roomUri, row.endpoint, streamSeq, row.body, now],
    );
    if (inserted.rows.length === 0) {
      // A concurrent transaction stored the same key after our check; its position wins and ours
      // stays unused (positions may have gaps, they only have to increase).
      const raced = await this.findExisting(sql, row.idempotencyKey);
      if (raced) return raced;
      throw new Error(`outbox append conflicted on ${row.idempotencyKey} but no row holds it`);
    }
    await sql.query(
      `UPDATE outbox_stream SET pending_count = pending_count + 1, next_attempt_at = COALESCE(next_attempt_at, $3)
       WHERE destination = $1 AND room_uri = $2`,
      [row.destination, row.roomUri, now],
    );
    return { id, idempotencyKey: row.idempotencyKey, streamSeq, duplicate: false };
  }

  private async findExisting(sql: SqlTx, idempotencyKey: string): Promise<AppendedOutboxEntry | undefined> {
    const found = await sql.query(`SELECT id, stream_seq FROM outbox_entry WHERE idempotency_key = $1`, [
      idempotencyKey,
    ]);
    const r = found.rows[0];
    return r ? { id: String(r.id), idempotencyKey, streamSeq: toNumber(r.stream_seq), duplicate: true } : undefined;
  }

  /**
   * Lease up to `limit` streams whose head row is due and that nobody holds (or whose holder's
   * lease expired: a crashed process), for `leaseMs`. On PostgreSQL concurrent claimers skip each
   * other's candidates (`FOR UPDATE SKIP LOCKED`), so each stream goes to one worker.
   */
  async claimStreams(owner: string, limit: number, leaseMs: number): Promise<StreamLease[]> {
    return this.transactions.run(async (tx) => {
      const sql = sqlOf(tx);
      const now = this.clock.now();
      const expiresAt = now + leaseMs;
      if (sql.dialect === 'postgres') {
        const claimed = await sql.query(
          `UPDATE outbox_stream AS s SET lease_owner = $1, lease_expires_at = $2
           FROM (SELECT destination, room_uri, lease_owner FROM outbox_stream
                 WHERE pending_count > 0 AND next_attempt_at <= $3
                   AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
                 ORDER BY next_attempt_at LIMIT $4
                 FOR UPDATE SKIP LOCKED) AS candidate
           WHERE s.destination = candidate.destination AND s.room_uri = candidate.room_uri
           RETURNING s.destination, s.room_uri, s.pending_count, candidate.lease_owner AS previous_owner`,
          [owner, expiresAt, now, limit],
        );
        return claimed.rows.map((r) => toLease(r, owner, expiresAt));
      }
      // SQLite has one writer at a time, so select-then-update inside one transaction cannot race
      // another claimer; the update re-checks the lease condition all the same.
      const candidates = await sql.query(
        `SELECT destination, room_uri, pending_count, lease_owner AS previous_owner FROM outbox_stream
         WHERE pending_count > 0 AND next_attempt_at <= $1 AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
         ORDER BY next_attempt_at LIMIT $2`,
        [now, limit],
      );
      const leases: StreamLease[] = [];
      for (const r of candidates.rows) {
        const updated = await sql.query(
          `UPDATE outbox_stream SET lease_owner = $1, lease_expires_at = $2
           WHERE destination = $3 AND room_uri = $4 AND (lease_expires_at IS NULL OR lease_expires_at <= $5)`,
          [owner, expiresAt, r.destination, r.room_uri, now],
        );
        if (updated.affected === 1) leases.push(toLease(r, owner, expiresAt));
      }
      return leases;
    });
  }

  /** The first `limit` pending rows of a stream, in stream order (the head first). */
  async pendingEntries(stream: StreamKey, limit: number): Promise<OutboxEntry[]> {
    return this.transactions.run(async (tx) => {
      const rows = await sqlOf(tx).query(
        `SELECT ${ENTRY_META_COLUMNS}, body FROM outbox_entry
         WHERE destination = $1 AND room_uri = $2 AND status = 'pending'
         ORDER BY stream_seq LIMIT $3`,
        [stream.destination, stream.roomUri, limit],
      );
      return rows.rows.map(toEntry);
    });
  }

  /** The first `limit` pending rows of a stream after stream seq `afterSeq`, in stream order. */
  async pendingEntriesAfter(stream: StreamKey, afterSeq: number, limit: number): Promise<OutboxEntry[]> {
    return this.transactions.run(async (tx) => {
      const rows = await sqlOf(tx).query(
        `SELECT ${ENTRY_META_COLUMNS}, body FROM outbox_entry
         WHERE destination = $1 AND room_uri = $2 AND status = 'pending' AND stream_seq > $3
         ORDER BY stream_seq LIMIT $4`,
        [stream.destination, stream.roomUri, afterSeq, limit],
      );
      return rows.rows.map(toEntry);
    });
  }

  /** The pending rows of batch `batchId` in `stream`, in stream order. */
  async batchEntries(stream: StreamKey, batchId: string): Promise<OutboxEntry[]> {
    return this.transactions.run(async (tx) => {
      const rows = await sqlOf(tx).query(
        `SELECT ${ENTRY_META_COLUMNS}, body FROM outbox_entry
         WHERE destination = $1 AND room_uri = $2 AND status = 'pending' AND batch_id = $3
         ORDER BY stream_seq`,
        [stream.destination, stream.roomUri, batchId],
      );
      return rows.rows.map(toEntry);
    });
  }

  /**
   * Bind pending rows that were never attempted into batch `batchId` before they are first sent
   * together. All or nothing: false (and nothing changed) when any of them is no longer pending,
   * was attempted, or is in a batch already.
   */
  async assignBatch(entries: readonly OutboxEntryMeta[], batchId: string): Promise<boolean> {
    const notBindable = new Error('not bindable');
    try {
      await this.transactions.run(async (tx) => {
        const sql = sqlOf(tx);
        for (const entry of entries) {
          const updated = await sql.query(
            `UPDATE outbox_entry SET batch_id = $2
             WHERE id = $1 AND status = 'pending' AND attempts = 0 AND batch_id IS NULL`,
            [entry.id, batchId],
          );
          if (updated.affected !== 1) throw notBindable; // rolls the whole batch back
        }
      });
      return true;
    } catch (e) {
      if (e === notBindable) return false;
      throw e;
    }
  }

  /**
   * Take rows out of their batch for good: each becomes a batch of its own and is sent alone from
   * now on (the peer refused the batch as a whole, so one of them may be bad).
   */
  async splitBatch(entries: readonly OutboxEntryMeta[]): Promise<void> {
    await this.transactions.run(async (tx) => {
      const sql = sqlOf(tx);
      for (const entry of entries) {
        await sql.query(`UPDATE outbox_entry SET batch_id = id WHERE id = $1 AND status = 'pending'`, [entry.id]);
      }
    });
  }

  /**
   * Record that the peer acknowledged `entry`, and extend the lease by `leaseMs` if `owner` still
   * holds the stream. The next row of the stream becomes due at once.
   */
  async markDelivered(entry: OutboxEntryMeta, owner: string, leaseMs: number): Promise<DeliveredResult> {
    const { leaseHeld, latenciesMs } = await this.markAllDelivered([entry], owner, leaseMs);
    return { leaseHeld, latencyMs: latenciesMs[0] ?? null };
  }

  /**
   * markDelivered for rows of one stream the peer acknowledged together (one request), in one
   * transaction. `latenciesMs[i]` belongs to `entries[i]` (null when it was already done).
   * `release`: give the stream back in the same transaction (the worker is done with it) instead
   * of extending the lease; `leaseHeld` then says whether it was still ours.
   */
  async markAllDelivered(
    entries: readonly OutboxEntryMeta[],
    owner: string,
    leaseMs: number,
    release = false,
  ): Promise<{ leaseHeld: boolean; latenciesMs: (number | null)[] }> {
    const [first] = entries;
    if (first === undefined) throw new Error('markAllDelivered: no rows');
    return this.transactions.run(async (tx) => {
      const sql = sqlOf(tx);
      const now = this.clock.now();
      const latenciesMs: (number | null)[] = [];
      for (const entry of entries) {
        const done = await sql.query(
          `UPDATE outbox_entry SET status = 'delivered', delivered_at = $2, attempts = attempts + 1
           WHERE id = $1 AND status = 'pending' RETURNING created_at`,
          [entry.id, now],
        );
        const createdAt = done.rows[0]?.created_at;
        if (createdAt !== undefined) await this.leavePending(sql, entry, now);
        latenciesMs.push(createdAt === undefined ? null : now - toNumber(createdAt));
      }
      const leaseHeld = release
        ? await this.releaseIn(sql, first, owner)
        : await this.extendLease(sql, first, owner, now + leaseMs);
      return { leaseHeld, latenciesMs };
    });
  }

  /**
   * Park `entry` (the peer rejected it for good): it leaves the stream with `reason` kept, and the
   * next row becomes due at once, so one bad message never blocks a stream. Extends the lease like
   * markDelivered.
   */
  async park(entry: OutboxEntryMeta, reason: string, owner: string, leaseMs: number): Promise<LeaseState> {
    return this.transactions.run(async (tx) => {
      const sql = sqlOf(tx);
      const now = this.clock.now();
      const parked = await sql.query(
        `UPDATE outbox_entry SET status = 'parked', last_error = $2, attempts = attempts + 1
         WHERE id = $1 AND status = 'pending'`,
        [entry.id, reason],
      );
      if (parked.affected === 1) await this.leavePending(sql, entry, now);
      return { leaseHeld: await this.extendLease(sql, entry, owner, now + leaseMs) };
    });
  }

  /**
   * Record a failed attempt: `entry` (the stream's head) is tried again at `retryAt`, and the
   * whole stream waits until then. Releases `owner`'s lease on the stream.
   */
  async scheduleRetry(entry: OutboxEntryMeta, retryAt: number, reason: string, owner: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const sql = sqlOf(tx);
      const updated = await sql.query(
        `UPDATE outbox_entry SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3
         WHERE id = $1 AND status = 'pending'`,
        [entry.id, retryAt, reason],
      );
      if (updated.affected === 1) {
        await sql.query(`UPDATE outbox_stream SET next_attempt_at = $3 WHERE destination = $1 AND room_uri = $2`, [
          entry.destination,
          entry.roomUri,
          retryAt,
        ]);
      }
      await this.releaseIn(sql, entry, owner);
    });
  }

  /** Extend `owner`'s lease on `stream` to now + leaseMs; false when `owner` no longer holds it. */
  async renewLease(stream: StreamKey, owner: string, leaseMs: number): Promise<boolean> {
    return this.transactions.run(async (tx) => this.extendLease(sqlOf(tx), stream, owner, this.clock.now() + leaseMs));
  }

  /** Give the stream back (graceful stop, batch done). No-op when `owner` does not hold it. */
  async releaseStream(stream: StreamKey, owner: string): Promise<void> {
    await this.transactions.run(async (tx) => void (await this.releaseIn(sqlOf(tx), stream, owner)));
  }

  /**
   * Recount a stream's pending rows from the rows themselves. The count is kept in step by every
   * write above; this repairs it should it ever disagree (a worker found no pending row in a
   * stream counted as pending).
   */
  async recountStream(stream: StreamKey): Promise<number> {
    return this.transactions.run(async (tx) => {
      const sql = sqlOf(tx);
      const counted = await sql.query(
        `SELECT COUNT(*) AS n FROM outbox_entry WHERE destination = $1 AND room_uri = $2 AND status = 'pending'`,
        [stream.destination, stream.roomUri],
      );
      const n = toNumber(counted.rows[0]?.n ?? 0);
      await sql.query(
        n === 0
          ? `UPDATE outbox_stream SET pending_count = 0, next_attempt_at = NULL WHERE destination = $1 AND room_uri = $2`
          : `UPDATE outbox_stream SET pending_count = $3, next_attempt_at = COALESCE(next_attempt_at, $4)
             WHERE destination = $1 AND room_uri = $2`,
        n === 0 ? [stream.destination, stream.roomUri] : [stream.destination, stream.roomUri, n, this.clock.now()],
      );
      return n;
    });
  }

  async findById(id: string): Promise<OutboxEntry | undefined> {
    return this.transactions.run(async (tx) => {
      const found = await sqlOf(tx).query(`SELECT ${ENTRY_META_COLUMNS}, body FROM outbox_entry WHERE id = $1`, [id]);
      const row = found.rows[0];
      return row ? toEntry(row) : undefined;
    });
  }

  async findByIdempotencyKey(idempotencyKey: string): Promise<OutboxEntry | undefined> {
    return this.transactions.run(async (tx) => {
      const found = await sqlOf(tx).query(
        `SELECT ${ENTRY_META_COLUMNS}, body FROM outbox_entry WHERE idempotency_key = $1`,
        [idempotencyKey],
      );
      const row = found.rows[0];
      return row ? toEntry(row) : undefined;
    });
  }

  /** Parked rows, newest first, optionally for one destination (admin API). */
  async listParked(opts: { destination?: ProviderDomain; limit: number }): Promise<ParkedOutboxEntry[]> {
    return this.transactions.run(async (tx) => {
      const sql = sqlOf(tx);
      const length = sql.dialect === 'postgres' ? 'octet_length(body)' : 'length(body)';
      const filter = opts.destination === undefined ? '' : 'AND destination = $2';
      const params: unknown[] = [opts.limit];
      if (opts.destination !== undefined) params.push(opts.destination);
      const found = await sql.query(
        `SELECT ${ENTRY_META_COLUMNS}, ${length} AS body_length FROM outbox_entry
         WHERE status = 'parked' ${filter} ORDER BY created_at DESC, id LIMIT $1`,
        params,
      );
      return found.rows.map((r) => ({ ...toMeta(r), bodyLength: toNumber(r.body_length) }));
    });
  }

  /**
   * Put a parked row back into its stream, with a fresh attempt count, due now. It keeps its
   * position: it goes out before any row behind it that is still pending.
   * @returns false when no parked row has this id
   */
  async requeue(id: string): Promise<boolean> {
    return this.transactions.run(async (tx) => {
      const sql = sqlOf(tx);
      const now = this.clock.now();
      const requeued = await sql.query(
        `UPDATE outbox_entry SET status = 'pending', attempts = 0, next_attempt_at = $2
         WHERE id = $1 AND status = 'parked' RETURNING destination, room_uri`,
        [id, now],
      );
      const row = requeued.rows[0];
      if (!row) return false;
      await sql.query(
        `UPDATE outbox_stream SET pending_count = pending_count + 1, next_attempt_at = $3
         WHERE destination = $1 AND room_uri = $2`,
        [row.destination, row.room_uri, now],
      );
      return true;
    });
  }

  /** Pending rows per destination (the backlog a metrics gauge shows). */
  async pendingDepthByDestination(): Promise<Map<ProviderDomain, number>> {
    return this.transactions.run(async (tx) => {
      const found = await sqlOf(tx).query(
        `SELECT destination, SUM(pending_count) AS pending FROM outbox_stream GROUP BY destination`,
      );
      return new Map(found.rows.map((r) => [String(r.destination) as ProviderDomain, toNumber(r.pending ?? 0)]));
    });
  }

  /** Per destination with pending rows: how many, and when the oldest of them was stored. */
  async pendingBacklogByDestination(): Promise<Map<ProviderDomain, { pending: number; oldestCreatedAt: number }>> {
    return this.transactions.run(async (tx) => {
      const found = await sqlOf(tx).query(
        `SELECT destination, COUNT(*) AS pending, MIN(created_at) AS oldest FROM outbox_entry
         WHERE status = 'pending' GROUP BY destination`,
      );
      return new Map(
        found.rows.map((r) => [
          String(r.destination) as ProviderDomain,
          { pending: toNumber(r.pending), oldestCreatedAt: toNumber(r.oldest) },
        ]),
      );
    });
  }

  /** Parked rows per destination. */
  async parkedCountByDestination(): Promise<Map<ProviderDomain, number>> {
    return this.transactions.run(async (tx) => {
      const found = await sqlOf(tx).query(
        `SELECT destination, COUNT(*) AS parked FROM outbox_entry WHERE status = 'parked' GROUP BY destination`,
      );
      return new Map(found.rows.map((r) => [String(r.destination) as ProviderDomain, toNumber(r.parked)]));
    });
  }

  /** Delete up to `limit` rows delivered before `deliveredBefore` (retention). Returns how many. */
  async pruneDelivered(deliveredBefore: number, limit: number): Promise<number> {
    return this.transactions.run(async (tx) => {
      const deleted = await sqlOf(tx).query(
        `DELETE FROM outbox_entry WHERE id IN (
           SELECT id FROM outbox_entry WHERE status = 'delivered' AND delivered_at < $1 LIMIT $2)`,
        [deliveredBefore, limit],
      );
      return deleted.affected;
    });
  }

  /** A row left `pending`: count it out of its stream; the next row is due now (or none is). */
  private async leavePending(sql: SqlTx, stream: StreamKey, now: number): Promise<void> {
    await sql.query(
      `UPDATE outbox_stream SET pending_count = pending_count - 1,
         next_attempt_at = CASE WHEN pending_count <= 1 THEN NULL ELSE CAST($3 AS bigint) END
       WHERE destination = $1 AND room_uri = $2`,
      [stream.destination, stream.roomUri, now],
    );
  }

  private async extendLease(sql: SqlTx, stream: StreamKey, owner: string, expiresAt: number): Promise<boolean> {
    const extended = await sql.query(
      `UPDATE outbox_stream SET lease_expires_at = $4 WHERE destination = $1 AND room_uri = $2 AND lease_owner = $3`,
      [stream.destination, stream.roomUri, owner, expiresAt],
    );
    return extended.affected === 1;
  }

  /** True when `owner` held the lease (and gave it back). */
  private async releaseIn(sql: SqlTx, stream: StreamKey, owner: string): Promise<boolean> {
    const released = await sql.query(
      `UPDATE outbox_stream SET lease_owner = NULL, lease_expires_at = NULL
       WHERE destination = $1 AND room_uri = $2 AND lease_owner = $3`,
      [stream.destination, stream.roomUri, owner],
    );
    return released.affected === 1;
  }
}

function compareStreams(a: StreamKey, b: StreamKey): number {
  if (a.destination !== b.destination) return a.destination < b.destination ? -1 : 1;
  if (a.roomUri !== b.roomUri) return a.roomUri < b.roomUri ? -1 : 1;
  return 0;
}

function toLease(r: Record<string, unknown>, owner: string, expiresAt: number): StreamLease {
  return {
    destination: String(r.destination) as ProviderDomain,
    roomUri: String(r.room_uri) as RoomUri,
    owner,
    expiresAt,
    pendingCount: toNumber(r.pending_count),
    previousOwner: toStringOrNull(r.previous_owner),
  };
}

function toMeta(r: Record<string, unknown>): OutboxEntryMeta {
  return {
    id: String(r.id),
    idempotencyKey: String(r.idempotency_key),
    destination: String(r.destination) as ProviderDomain,
    roomUri: String(r.room_uri) as RoomUri,
    endpoint: String(r.endpoint),
    streamSeq: toNumber(r.stream_seq),
    status: String(r.status) as OutboxStatus,
    attempts: toNumber(r.attempts),
    nextAttemptAt: toNumber(r.next_attempt_at),
    lastError: toStringOrNull(r.last_error),
    createdAt: toNumber(r.created_at),
    deliveredAt: toNumberOrNull(r.delivered_at),
    batchId: toStringOrNull(r.batch_id),
  };
}

function toEntry(r: Record<string, unknown>): OutboxEntry {
  return { ...toMeta(r), body: toBytes(r.body) };
}
