import type { ValueTransformer } from 'typeorm';
import type { SqlDialect } from '../sql';

/**
 * Column types both drivers map cleanly (STYLE §8). Times are stored as BIGINT milliseconds since
 * the epoch, written from the injectable Clock, so tests control them and both databases compare
 * them the same way. Bytes are BLOB on SQLite and BYTEA on PostgreSQL: the only type that differs,
 * which is why the entities are built per dialect (EntitySchema) rather than with decorators.
 */
export function binaryType(dialect: SqlDialect): 'blob' | 'bytea' {
  return dialect === 'postgres' ? 'bytea' : 'blob';
}

/** node-postgres returns BIGINT as a string; entities expose numbers. */
export const BIGINT_AS_NUMBER: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: unknown) => (value === null || value === undefined ? value : Number(value)),
};
