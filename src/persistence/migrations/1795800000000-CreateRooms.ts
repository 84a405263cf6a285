import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * MIMI rooms (src/rooms): the room ↔ legacy room links, the local MLS member clients of each
 * room, the ordered message log, the legacy ↔ MIMI message-ID map, submissions in both
 * directions and the MLS key/value store (`mls_kv`, see src/mls/mls-storage.ts). Hand-written
 * with the same types as CreateOutbox so that it runs unchanged on SQLite and PostgreSQL; only
 * the byte columns differ (BLOB / BYTEA). These tables have no TypeORM entities: the rooms
 * repositories use raw SQL through `Tx` (STYLE §4), and the schema-drift test only compares
 * tables that have entities.
 */
export class CreateRooms1795800000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    const bytes = queryRunner.connection.driver.options.type === 'postgres' ? 'bytea' : 'blob';
    await queryRunner.query(
      `CREATE TABLE "mimi_room" (` +
        `"room_uri" varchar(1024) NOT NULL, ` +
        `"role" varchar(16) NOT NULL, ` +
        `"hub_domain" varchar(253) NOT NULL, ` +
        `"platform" varchar(32) NOT NULL, ` +
        `"legacy_room_id" varchar(1024) NOT NULL, ` +
        `"fanout_seq" bigint NOT NULL, ` +
        `"event_seq" bigint NOT NULL, ` +
        `"created_at" bigint NOT NULL, ` +
        `CONSTRAINT "chk_mimi_room_role" CHECK ("role" IN ('hub', 'follower')), ` +
        `CONSTRAINT "pk_mimi_room" PRIMARY KEY ("room_uri"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_mimi_room_legacy" ON "mimi_room" ("platform", "legacy_room_id")`);
    await queryRunner.query(
      `CREATE TABLE "room_local_member" (` +
        `"room_uri" varchar(1024) NOT NULL, ` +
        `"user_uri" varchar(1024) NOT NULL, ` +
        `"added_at" bigint NOT NULL, ` +
        `CONSTRAINT "pk_room_local_member" PRIMARY KEY ("room_uri", "user_uri"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "room_event" (` +
        `"room_uri" varchar(1024) NOT NULL, ` +
        `"seq" bigint NOT NULL, ` +
        `"message_id" varchar(66) NOT NULL, ` +
        `"sender_uri" varchar(1024) NOT NULL, ` +
        `"kind" varchar(16) NOT NULL, ` +
        `"content" ${bytes} NOT NULL, ` +
        `"accepted_at" bigint NOT NULL, ` +
        `"render_status" varchar(16) NOT NULL, ` +
        `"render_attempts" integer NOT NULL, ` +
        `"created_at" bigint NOT NULL, ` +
        `CONSTRAINT "chk_room_event_render_status" CHECK ("render_status" IN ('none', 'pending', 'done', 'failed')), ` +
        `CONSTRAINT "pk_room_event" PRIMARY KEY ("room_uri", "seq"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_room_event_message_id" ON "room_event" ("room_uri", "message_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_room_event_render" ON "room_event" ("render_status", "room_uri", "seq")`,
    );
    await queryRunner.query(
      `CREATE TABLE "legacy_event" (` +
        `"platform" varchar(32) NOT NULL, ` +
        `"platform_event_id" varchar(1024) NOT NULL, ` +
        `"room_uri" varchar(1024) NOT NULL, ` +
        `"message_id" varchar(66), ` +
        `"created_at" bigint NOT NULL, ` +
        `CONSTRAINT "pk_legacy_event" PRIMARY KEY ("platform", "platform_event_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_legacy_event_message" ON "legacy_event" ("room_uri", "message_id")`);
    await queryRunner.query(
      `CREATE TABLE "room_submission" (` +
        `"room_uri" varchar(1024) NOT NULL, ` +
        `"body_sha256" varchar(64) NOT NULL, ` +
        `"direction" varchar(8) NOT NULL, ` +
        `"message_id" varchar(66) NOT NULL, ` +
        `"sender_uri" varchar(1024) NOT NULL, ` +
        `"app_message" ${bytes} NOT NULL, ` +
        `"content" ${bytes} NOT NULL, ` +
        `"status" varchar(16) NOT NULL, ` +
        `"platform_event_id" varchar(1024), ` +
        `"accepted_at" bigint, ` +
        `"last_error" text, ` +
        `"created_at" bigint NOT NULL, ` +
        `CONSTRAINT "chk_room_submission_direction" CHECK ("direction" IN ('in', 'out')), ` +
        `CONSTRAINT "pk_room_submission" PRIMARY KEY ("room_uri", "body_sha256"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_room_submission_message" ON "room_submission" ("room_uri", "message_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_room_submission_status" ON "room_submission" ("direction", "status", "created_at")`,
    );
    await queryRunner.query(
      `CREATE TABLE "mls_kv" (` +
        `"key" varchar(2048) NOT NULL, ` +
        `"value" ${bytes} NOT NULL, ` +
        `"updated_at" bigint NOT NULL, ` +
        `CONSTRAINT "pk_mls_kv" PRIMARY KEY ("key"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "mls_kv"`);
    await queryRunner.query(`DROP INDEX "idx_room_submission_status"`);
    await queryRunner.query(`DROP INDEX "idx_room_submission_message"`);
    await queryRunner.query(`DROP TABLE "room_submission"`);
    await queryRunner.query(`DROP INDEX "idx_legacy_event_message"`);
    await queryRunner.query(`DROP TABLE "legacy_event"`);
    await queryRunner.query(`DROP INDEX "idx_room_event_render"`);
    await queryRunner.query(`DROP INDEX "uq_room_event_message_id"`);
    await queryRunner.query(`DROP TABLE "room_event"`);
    await queryRunner.query(`DROP TABLE "room_local_member"`);
    await queryRunner.query(`DROP INDEX "uq_mimi_room_legacy"`);
    await queryRunner.query(`DROP TABLE "mimi_room"`);
  }
}
