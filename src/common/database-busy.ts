/**
 * Whether an error is the database being busy: another connection holds the lock we need (SQLite
 * `SQLITE_BUSY`/`SQLITE_LOCKED` after busy_timeout; PostgreSQL lock_not_available, a deadlock or a
 * serialization failure). Such a failure is transient: the same request may succeed once the lock
 * is released, so it is answered 503 with Retry-After rather than 500 (RELIABILITY T39).
 */
const BUSY_CODES = new Set([
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_RECOVERY',
  'SQLITE_BUSY_TIMEOUT',
  'SQLITE_LOCKED',
  'SQLITE_LOCKED_SHAREDCACHE',
  '55P03', // lock_not_available (lock_timeout)
  '40P01', // deadlock_detected
  '40001', // serialization_failure
]);

/** How deep to follow `cause` / `driverError` links. */
const MAX_DEPTH = 5;

/** True when `e`, or an error it wraps (`driverError` of TypeORM, `cause`), is a busy database. */
export function isDatabaseBusy(e: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH || e === null || typeof e !== 'object') return false;
  const { code, driverError, cause } = e as { code?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof code === 'string' && BUSY_CODES.has(code)) return true;
  return isDatabaseBusy(driverError, depth + 1) || isDatabaseBusy(cause, depth + 1);
}
