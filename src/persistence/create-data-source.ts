import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { DataSource, DataSourceOptions } from 'typeorm';
import { ConfigError } from '../common/errors';
import type { GatewayConfig } from '../config/gateway-config';
import { resolveConfigPath } from '../config/load-config';
import { persistenceEntities } from './entities';
import { MIGRATIONS } from './migrations';
import { TypeOrmNestLogger } from './typeorm-logger';

/** Table TypeORM records applied migrations in. */
const MIGRATIONS_TABLE = 'schema_migration';

/** How long a SQLite statement waits for another connection's write lock before failing (ms). */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * `synchronous` for SQLite. FULL, not NORMAL: with WAL + NORMAL a committed transaction "might
 * roll back following a power loss or system crash" (sqlite.org/pragma.html#pragma_synchronous),
 * and the gateway acknowledges an event to the homeserver / MUC / peer right after that commit;
 * a lost commit would be a lost message nobody retries (RELIABILITY §4, §6 I1). See README.md.
 */
const SQLITE_SYNCHRONOUS = 'FULL';

/** TypeORM options for the configured database. Migrations are never run implicitly. */
export function dataSourceOptions(config: GatewayConfig): DataSourceOptions {
  const common: Pick<
    DataSourceOptions,
    | 'synchronize'
    | 'migrationsRun'
    | 'migrations'
    | 'migrationsTableName'
    | 'migrationsTransactionMode'
    | 'logger'
    | 'logging'
  > = {
    synchronize: false,
    migrationsRun: false,
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsTransactionMode: 'each',
    logger: new TypeOrmNestLogger(config.logging.level),
    // TypeORM calls a custom logger for everything; TypeOrmNestLogger filters by level.
    logging: 'all',
  };
  const db = config.database;
  if (db.type === 'postgres') {
    if (!db.url) throw new ConfigError([{ keyPath: 'database.url', expected: 'a postgres:// connection URL' }]);
    return {
      ...common,
      type: 'postgres',
      url: db.url,
      poolSize: db.poolSize,
      entities: persistenceEntities('postgres'),
    };
  }
  const file = resolveConfigPath(config, db.path);
  return {
    ...common,
    type: 'better-sqlite3',
    database: file,
    timeout: SQLITE_BUSY_TIMEOUT_MS,
    prepareDatabase: (connection: BetterSqlite3.Database) => prepareSqlite(connection),
    entities: persistenceEntities('sqlite'),
  };
}

/**
 * A DataSource for the configured database (not yet initialized). For SQLite the parent folder
 * of the database file is created.
 */
export function createDataSource(config: GatewayConfig): DataSource {
  const options = dataSourceOptions(config);
  if (options.type === 'better-sqlite3') mkdirSync(dirname(options.database), { recursive: true });
  return new DataSource(options);
}

/** Pragmas for every SQLite connection, applied before TypeORM uses it. */
function prepareSqlite(connection: BetterSqlite3.Database): void {
  const mode = connection.pragma('journal_mode = WAL', { simple: true }) as string;
  if (String(mode).toLowerCase() !== 'wal') {
    throw new Error(`SQLite refused WAL journal mode (got ${String(mode)}); is the file on a network filesystem?`);
  }
  connection.pragma(`synchronous = ${SQLITE_SYNCHRONOUS}`);
  connection.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  connection.pragma('foreign_keys = ON');
}
