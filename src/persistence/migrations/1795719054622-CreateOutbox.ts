import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The durable outbox (outbox_entry + outbox_stream) and receiver-side de-duplication
 * (inbound_message). SQL generated from the entities by TypeORM's schema builder for each driver,
 * then read and merged by hand: the statements are identical on both databases except the type
 * of the message bytes (BLOB on SQLite, BYTEA on PostgreSQL). `varchar(n)` is PostgreSQL's
 * `character varying(n)`; SQLite gives `bigint` columns INTEGER affinity (64-bit).
 */
export class CreateOutbox1795719054622 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    const bytes = queryRunner.connection.driver.options.type === 'postgres' ? 'bytea' : 'blob';
    await queryRunner.query(
      `CREATE TABLE "outbox_entry" (` +
        `"id" varchar(36) NOT NULL, ` +
        `"idempotency_key" varchar(255) NOT NULL, ` +
        `"destination" varchar(253) NOT NULL, ` +
        `"room_uri" varchar(1024) NOT NULL, ` +
        `"endpoint" varchar(32) NOT NULL, ` +
        `"stream_seq" bigint NOT NULL, ` +
        `"body" ${bytes} NOT NULL, ` +
        `"status" varchar(16) NOT NULL, ` +
        `"attempts" integer NOT NULL, ` +
        `"next_attempt_at" bigint NOT NULL, ` +
        `"last_error" text, ` +
        `"created_at" bigint NOT NULL, ` +
        `"delivered_at" bigint, ` +
        `CONSTRAINT "chk_outbox_entry_status" CHECK ("status" IN ('pending', 'delivered', 'parked')), ` +
        `CONSTRAINT "pk_outbox_entry" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_outbox_entry_idempotency_key" ON "outbox_entry" ("idempotency_key")`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_outbox_entry_stream_seq" ON "outbox_entry" ("destination", "room_uri", "stream_seq")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_outbox_entry_stream_status" ON "outbox_entry" ("destination", "room_uri", "status", "stream_seq")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_outbox_entry_status_created" ON "outbox_entry" ("status", "created_at")`,
    );
    await queryRunner.query(
      `CREATE TABLE "outbox_stream" (` +
        `"destination" varchar(253) NOT NULL, ` +
        `"room_uri" varchar(1024) NOT NULL, ` +
        `"last_seq" bigint NOT NULL, ` +
        `"pending_count" integer NOT NULL, ` +
        `"next_attempt_at" bigint, ` +
        `"lease_owner" varchar(64), ` +
        `"lease_expires_at" bigint, ` +
        `CONSTRAINT "pk_outbox_stream" PRIMARY KEY ("destination", "room_uri"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_outbox_stream_next_attempt_at" ON "outbox_stream" ("next_attempt_at")`);
    await queryRunner.query(
      `CREATE TABLE "inbound_message" (` +
        `"source_domain" varchar(253) NOT NULL, ` +
        `"room_uri" varchar(1024) NOT NULL, ` +
        `"endpoint" varchar(32) NOT NULL, ` +
        `"body_sha256" varchar(64) NOT NULL, ` +
        `"first_seen_at" bigint NOT NULL, ` +
        `CONSTRAINT "pk_inbound_message" PRIMARY KEY ("source_domain", "room_uri", "endpoint", "body_sha256"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_inbound_message_first_seen_at" ON "inbound_message" ("first_seen_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_inbound_message_first_seen_at"`);
    await queryRunner.query(`DROP TABLE "inbound_message"`);
    await queryRunner.query(`DROP INDEX "idx_outbox_stream_next_attempt_at"`);
    await queryRunner.query(`DROP TABLE "outbox_stream"`);
    await queryRunner.query(`DROP INDEX "idx_outbox_entry_status_created"`);
    await queryRunner.query(`DROP INDEX "idx_outbox_entry_stream_status"`);
    await queryRunner.query(`DROP INDEX "uq_outbox_entry_stream_seq"`);
    await queryRunner.query(`DROP INDEX "uq_outbox_entry_idempotency_key"`);
    await queryRunner.query(`DROP TABLE "outbox_entry"`);
  }
}
