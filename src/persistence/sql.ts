import type { DataSource, QueryRunner } from 'typeorm';

/** The two databases the gateway runs on (STYLE §8). Nothing outside src/persistence knows which. */
export type SqlDialect = 'sqlite' | 'postgres';

export function dialectOf(dataSource: DataSource): SqlDialect {
  return dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite';
}

/** Rows (column name → raw driver value) and the number of rows a write touched. */
export interface SqlResult {
  readonly rows: readonly Record<string, unknown>[];
  readonly affected: number;
}

/**
 * Runs one statement written with PostgreSQL's numbered placeholders (`$1`, `$2`, ...) on either
 * database. better-sqlite3 binds an array only to anonymous `?` placeholders, so for SQLite each
 * `$n` becomes `?` and the parameters are re-ordered to match (a `$n` may appear more than once).
 * Our SQL never contains a `$` inside a string literal, which keeps this rewrite safe.
 */
export async function runSql(
  queryRunner: QueryRunner,
  dialect: SqlDialect,
  sql: string,
  params: readonly unknown[] = [],
): Promise<SqlResult> {
  let text = sql;
  let values = params.map(toDriverValue);
  if (dialect === 'sqlite') {
    const ordered: unknown[] = [];
    text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
      ordered.push(values[Number(n) - 1]);
      return '?';
    });
    values = ordered;
  }
  const result = (await queryRunner.query(text, values, true)) as { records?: unknown[]; affected?: number };
  const rows = (result.records ?? []) as Record<string, unknown>[];
  // better-sqlite3 reports `changes` only for statements without RETURNING; a RETURNING
  // statement yields its rows instead, one per row written.
  return { rows, affected: result.affected ?? rows.length };
}

function toDriverValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  return value;
}

/** A BIGINT read back: node-postgres returns it as a string, better-sqlite3 as a number. */
export function toNumber(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError(`not a safe integer: ${String(value)}`);
  return n;
}

export function toNumberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

export function toStringOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** A BLOB/BYTEA read back as a Uint8Array (both drivers return a Buffer, a Uint8Array subclass). */
export function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new TypeError('not a binary value');
}
