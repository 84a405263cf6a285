import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `mls_kv` prefix reads (a group's records, its ratchet rows, a user's KeyPackages) as index range
 * scans (`MlsKvRepository`): they were full scans, so loading a group or linking a room grew with
 * every room stored (issue 12). PostgreSQL compares text by the database's collation, which may
 * not order keys bytewise, so the range runs on a "C" collation index; SQLite's primary key index
 * (BINARY) serves the range already.
 */
export class MlsKvPrefixIndex1796300000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.driver.options.type !== 'postgres') return;
    await queryRunner.query(`CREATE INDEX "idx_mls_kv_key_c" ON "mls_kv" ("key" COLLATE "C")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.driver.options.type !== 'postgres') return;
    await queryRunner.query(`DROP INDEX "idx_mls_kv_key_c"`);
  }
}
