import type { LoggerService } from '@nestjs/common';
import { DataSource, MigrationExecutor } from 'typeorm';
import { errorMessage } from '../common/errors';
import { dialectOf } from './sql';

/**
 * Key of the PostgreSQL advisory lock held while migrating, so that two gateway processes
 * starting at once do not both migrate (immich: `withLock(DatabaseLock.Migrations, ...)`).
 * Any constant works; this one is "mimi" in ASCII followed by 1 (the lock's purpose).
 */
const MIGRATION_LOCK_KEY = 0x6d696d6901;

/**
 * Apply pending migrations, each in its own transaction, logging each one applied. On PostgreSQL
 * the run happens on one session that holds `pg_advisory_lock(MIGRATION_LOCK_KEY)`; a second
 * process waits for it and then finds nothing left to do. Running on the lock's own session also
 * works with a pool of one connection.
 * @returns the names of the migrations applied, oldest first
 * @throws the failing migration's error; earlier migrations of the run stay applied
 */
export async function runMigrations(dataSource: DataSource, logger: LoggerService): Promise<string[]> {
  const queryRunner = dataSource.createQueryRunner();
  const postgres = dialectOf(dataSource) === 'postgres';
  try {
    if (postgres) {
      await queryRunner.connect();
      await queryRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    try {
      const executor = new MigrationExecutor(dataSource, queryRunner);
      executor.transaction = 'each';
      const applied = await executor.executePendingMigrations();
      for (const migration of applied) logger.log(`applied migration ${migration.name}`);
      if (applied.length === 0) logger.log('database schema is up to date');
      return applied.map((m) => m.name);
    } catch (e) {
      logger.error(`migration failed: ${errorMessage(e)}`);
      throw e;
    } finally {
      if (postgres) await queryRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await queryRunner.release();
  }
}
