import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `outbox_entry.batch_id`: rows the worker sent together in one `/notify` body (protocol-06 §5.5
 * "multiple concatenated FanoutMessage objects") carry the same batch ID from their first attempt
 * on, so that every retry sends exactly the same bytes (RELIABILITY T22). NULL for rows not yet
 * attempted or sent alone. Same statement on SQLite and PostgreSQL.
 */
export class AddOutboxBatch1795900000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "outbox_entry" ADD COLUMN "batch_id" varchar(36)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "outbox_entry" DROP COLUMN "batch_id"`);
  }
}
