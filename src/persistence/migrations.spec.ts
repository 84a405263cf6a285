import type { LoggerService } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DATABASE_KINDS, SILENT_LOGGER, TestDatabase, createTestDataSource } from '../../test/support/test-data-source';
import { MIGRATIONS } from './migrations';
import { runMigrations } from './run-migrations';

const TABLES = ['outbox_entry', 'outbox_stream', 'inbound_message', 'bridge_state', 'room_lease'];

class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: string): void {
    this.lines.push(message);
  }
  error(message: string): void {
    this.lines.push(`error: ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn: ${message}`);
  }
}

async function existingTables(dataSource: DataSource): Promise<string[]> {
  const queryRunner = dataSource.createQueryRunner();
  try {
    const present: string[] = [];
    for (const table of TABLES) if (await queryRunner.hasTable(table)) present.push(table);
    return present;
  } finally {
    await queryRunner.release();
  }
}

describe.each(DATABASE_KINDS)('migrations on %s', (kind) => {
  describe(runMigrations.name, () => {
    let dataSource: DataSource;
    afterEach(async () => dataSource?.destroy());

    it('applies every migration to an empty database and logs each one', async () => {
      dataSource = await createTestDataSource(kind, { migrate: false });
      const logger = new RecordingLogger();

      const applied = await runMigrations(dataSource, logger);

      const names = MIGRATIONS.map((m) => m.name);
      expect(applied).toEqual(names);
      expect(logger.lines).toEqual(names.map((n) => `applied migration ${n}`));
      expect(await existingTables(dataSource)).toEqual(TABLES);
    });

    it('does nothing on an up-to-date database', async () => {
      dataSource = await createTestDataSource(kind);
      const logger = new RecordingLogger();

      expect(await runMigrations(dataSource, logger)).toEqual([]);
      expect(logger.lines).toEqual(['database schema is up to date']);
    });

    it('leaves entities and migrations in step (no schema drift)', async () => {
      dataSource = await createTestDataSource(kind);

      const { upQueries } = await dataSource.driver.createSchemaBuilder().log();

      expect(upQueries.map((q) => q.query)).toEqual([]);
    });

    it('reverts every migration with down() and can apply them again', async () => {
      dataSource = await createTestDataSource(kind);

      for (let i = 0; i < MIGRATIONS.length; i += 1) await dataSource.undoLastMigration({ transaction: 'each' });

      expect(await existingTables(dataSource)).toEqual([]);
      expect(await runMigrations(dataSource, SILENT_LOGGER)).toHaveLength(MIGRATIONS.length);
      expect(await existingTables(dataSource)).toEqual(TABLES);
    });
  });
});

describe('migrations on postgres with two processes', () => {
  it('lets only one of two concurrent runs apply the migrations (advisory lock)', async () => {
    const database = await TestDatabase.create('postgres');
    const first = await database.open();
    const second = await database.open();
    try {
      const [a, b] = await Promise.all([runMigrations(first, SILENT_LOGGER), runMigrations(second, SILENT_LOGGER)]);

      expect([...a, ...b]).toEqual(MIGRATIONS.map((m) => m.name));
      expect(await existingTables(first)).toEqual(TABLES);
    } finally {
      await first.destroy();
      await second.destroy();
      await database.drop();
    }
  });
});
