import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock } from '../../common/clock';
import { toBytes } from '../sql';
import { TransactionRunner, Tx, sqlOf } from '../transaction-runner';

/**
 * Byte values under string keys (`mls_kv`): the store behind the rooms' `MlsStorage` (MLS client
 * identities, group states, unused KeyPackage keys, the hub's external-sender key). Every method
 * takes the caller's transaction, or runs in one of its own when `tx` is undefined. Values hold
 * secrets.
 */
@Injectable()
export class MlsKvRepository {
  constructor(
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async get(tx: Tx | undefined, key: string): Promise<Uint8Array | undefined> {
    if (tx === undefined) return this.transactions.run((own) => this.get(own, key));
    const result = await sqlOf(tx).query(`SELECT "value" FROM mls_kv WHERE "key" = $1`, [key]);
    const row = result.rows[0];
    return row === undefined ? undefined : new Uint8Array(toBytes(row.value));
  }

  async put(tx: Tx | undefined, key: string, value: Uint8Array): Promise<void> {
    if (tx === undefined) return this.transactions.run((own) => this.put(own, key, value));
    await sqlOf(tx).query(
      `INSERT INTO mls_kv ("key", "value", updated_at) VALUES ($1, $2, $3)
       ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value", updated_at = excluded.updated_at`,
      [key, value, this.clock.now()],
    );
  }

  async delete(tx: Tx | undefined, key: string): Promise<void> {
    if (tx === undefined) return this.transactions.run((own) => this.delete(own, key));
    await sqlOf(tx).query(`DELETE FROM mls_kv WHERE "key" = $1`, [key]);
  }

  /** Every key starting with `prefix` with its value, in key order (one query). */
  async getAll(tx: Tx | undefined, prefix: string): Promise<[string, Uint8Array][]> {
    if (tx === undefined) return this.transactions.run((own) => this.getAll(own, prefix));
    const result = await this.underPrefix(tx, `"key", "value"`, prefix);
    return result.rows.map((r) => [String(r.key), new Uint8Array(toBytes(r.value))]);
  }

  /** Every key starting with `prefix` (compared exactly, no LIKE wildcards), in key order. */
  async listKeys(tx: Tx | undefined, prefix: string): Promise<string[]> {
    if (tx === undefined) return this.transactions.run((own) => this.listKeys(own, prefix));
    const result = await this.underPrefix(tx, `"key"`, prefix);
    return result.rows.map((r) => String(r.key));
  }

  /**
   * The rows whose key starts with `prefix`: an index range scan (keys from `prefix` up to its
   * successor, bytewise: the "C" collation index on PostgreSQL), the exact prefix test on top.
   */
  private underPrefix(tx: Tx, columns: string, prefix: string): ReturnType<ReturnType<typeof sqlOf>['query']> {
    const sql = sqlOf(tx);
    const end = prefixSuccessor(prefix);
    const key = sql.dialect === 'postgres' ? `"key" COLLATE "C"` : `"key"`;
    const range = end === undefined ? '' : `${key} >= $1 AND ${key} < $3 AND `;
    return sql.query(
      `SELECT ${columns} FROM mls_kv WHERE ${range}substr("key", 1, $2) = $1 ORDER BY ${key}`,
      end === undefined ? [prefix, prefix.length] : [prefix, prefix.length, end],
    );
  }
}

/**
 * The least string above every string starting with `prefix`, bytewise (its last character
 * raised by one); undefined when there is none to compute simply (empty, or not all ASCII).
 */
function prefixSuccessor(prefix: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (prefix === '' || !/^[\x00-\x7e]*$/.test(prefix)) return undefined;
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
