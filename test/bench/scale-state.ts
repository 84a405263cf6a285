/**
 * What the scale bench reads of a gateway's database: the bytes of one room's MLS group state in
 * the `mls_kv` table (keys `mls2/group/<group id>/…`: epoch record, tree keys, proposals, ratchet
 * rows; src/mls/gateway/keys.ts). Read-only, next to the running gateway (SQLite in WAL mode).
 */
import Database from 'better-sqlite3';
import type { RoomUri } from '../../src/common/ids';
import { gatewayKeys, groupIdForRoom } from '../../src/mls';

export interface GroupBytes {
  readonly bytes: number;
  readonly rows: number;
}

/** Keys + values of `roomUri`'s group in the MLS table of the SQLite database `file`. */
export function groupStateBytes(file: string, roomUri: string): GroupBytes {
  const prefix = gatewayKeys.groupPrefix(groupIdForRoom(roomUri as RoomUri));
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare(
        `SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(CAST("key" AS BLOB)) + LENGTH("value")), 0) AS b
           FROM mls_kv WHERE substr("key", 1, ?) = ?`,
      )
      .get(prefix.length, prefix) as { n: number; b: number };
    return { bytes: row.b, rows: row.n };
  } finally {
    db.close();
  }
}
