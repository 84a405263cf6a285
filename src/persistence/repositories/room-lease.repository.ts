import { Injectable } from '@nestjs/common';
import { TransactionRunner, Tx, sqlOf } from '../transaction-runner';
import { toNumber } from '../sql';

/** A lease this process holds: `epoch` is the fencing token its writes are checked against. */
export interface HeldLease {
  readonly roomUri: string;
  readonly epoch: number;
  readonly expiresAt: number;
}

/** What `acquire` found: the lease is ours, or another process holds it until `expiresAt`. */
export type AcquireResult =
  | ({ readonly kind: 'held' } & HeldLease)
  | { readonly kind: 'elsewhere'; readonly owner: string; readonly expiresAt: number };

/**
 * `room_lease` (migration CreateRoomLease): one row per room that some gateway process owns.
 * A lease changes hands only when it has expired (or its owner released it), and then its
 * `epoch` grows by one; `fence` makes a transaction fail unless the caller still holds the
 * epoch it was given, and on PostgreSQL it share-locks the row, so a takeover waits for the
 * owner's transactions in flight and the owner's later transactions see the new epoch.
 */
@Injectable()
export class RoomLeaseRepository {
  constructor(private readonly transactions: TransactionRunner) {}

  /**
   * Take or renew the lease of `roomUri` for `owner` until `now + ttlMs`: when nobody holds it,
   * when it expired, or when `owner` holds it already (the epoch then stays).
   */
  acquire(roomUri: string, owner: string, now: number, ttlMs: number): Promise<AcquireResult> {
    return this.transactions.run(async (tx) => {
      const taken = await sqlOf(tx).query(
        `INSERT INTO room_lease (room_uri, owner, epoch, expires_at) VALUES ($1, $2, 1, $3)
         ON CONFLICT (room_uri) DO UPDATE SET
           epoch = CASE WHEN room_lease.owner = excluded.owner AND room_lease.expires_at > $4
                        THEN room_lease.epoch ELSE room_lease.epoch + 1 END,
           owner = excluded.owner, expires_at = excluded.expires_at
         WHERE room_lease.owner = excluded.owner OR room_lease.expires_at <= $4
         RETURNING epoch, expires_at`,
        [roomUri, owner, now + ttlMs, now],
      );
      const row = taken.rows[0];
      if (row !== undefined) {
        return { kind: 'held', roomUri, epoch: toNumber(row.epoch), expiresAt: toNumber(row.expires_at) };
      }
      const other = await sqlOf(tx).query(`SELECT owner, expires_at FROM room_lease WHERE room_uri = $1`, [roomUri]);
      const r = other.rows[0];
      // Released between the two statements: nobody holds it, the caller may try again at once.
      if (r === undefined) return { kind: 'elsewhere', owner: '', expiresAt: now };
      return { kind: 'elsewhere', owner: String(r.owner), expiresAt: toNumber(r.expires_at) };
    });
  }

  /** Extend every lease `owner` holds of `roomUris` to `now + ttlMs`; returns the ones still held. */
  renew(owner: string, roomUris: readonly string[], now: number, ttlMs: number): Promise<HeldLease[]> {
    if (roomUris.length === 0) return Promise.resolve([]);
    return this.transactions.run(async (tx) => {
      const held: HeldLease[] = [];
      // Batches keep the statement within both drivers' parameter limits.
      for (let i = 0; i < roomUris.length; i += 500) {
        const batch = roomUris.slice(i, i + 500);
        const list = batch.map((_, j) => `$${j + 3}`).join(', ');
        const result = await sqlOf(tx).query(
          `UPDATE room_lease SET expires_at = $1 WHERE owner = $2 AND room_uri IN (${list})
           RETURNING room_uri, epoch, expires_at`,
          [now + ttlMs, owner, ...batch],
        );
        for (const r of result.rows) {
          held.push({ roomUri: String(r.room_uri), epoch: toNumber(r.epoch), expiresAt: toNumber(r.expires_at) });
        }
      }
      return held;
    });
  }

  /** Give up `owner`'s leases of `roomUris` at once (they expire now; the epoch stays for the next owner to raise). */
  async release(owner: string, roomUris: readonly string[], now: number): Promise<void> {
    if (roomUris.length === 0) return;
    await this.transactions.run(async (tx) => {
      for (let i = 0; i < roomUris.length; i += 500) {
        const batch = roomUris.slice(i, i + 500);
        const list = batch.map((_, j) => `$${j + 3}`).join(', ');
        await sqlOf(tx).query(`UPDATE room_lease SET expires_at = $1 WHERE owner = $2 AND room_uri IN (${list})`, [
          now,
          owner,
          ...batch,
        ]);
      }
    });
  }

  /**
   * True when `owner` still holds `roomUri` at `epoch`. On PostgreSQL the row is share-locked
   * until `tx` ends, so a takeover (which updates the row) waits for `tx` and then raises the
   * epoch: a stale owner's later transactions fail this check.
   */
  async fence(tx: Tx, roomUri: string, owner: string, epoch: number): Promise<boolean> {
    const sql = sqlOf(tx);
    const lock = sql.dialect === 'postgres' ? ' FOR SHARE' : '';
    const result = await sql.query(
      `SELECT epoch FROM room_lease WHERE room_uri = $1 AND owner = $2 AND epoch = $3${lock}`,
      [roomUri, owner, epoch],
    );
    return result.rows.length > 0;
  }

  /** Every lease (admin listing, tests): room → owner, epoch, expiry. */
  async list(): Promise<{ roomUri: string; owner: string; epoch: number; expiresAt: number }[]> {
    return this.transactions.run(async (tx) => {
      const result = await sqlOf(tx).query(
        `SELECT room_uri, owner, epoch, expires_at FROM room_lease ORDER BY room_uri`,
      );
      return result.rows.map((r) => ({
        roomUri: String(r.room_uri),
        owner: String(r.owner),
        epoch: toNumber(r.epoch),
        expiresAt: toNumber(r.expires_at),
      }));
    });
  }
}
