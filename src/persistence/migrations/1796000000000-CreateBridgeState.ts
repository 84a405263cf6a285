import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `bridge_state`: a bridge's durable key/value state (src/persistence/entities/bridge-state.entity.ts;
 * the XMPP bridge's per-MUC journal, formerly the JSON file `xmpp.stateFile`). Same statements on
 * SQLite and PostgreSQL.
 */
export class CreateBridgeState1796000000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "bridge_state" (` +
        `"platform" varchar(32) NOT NULL, ` +
        `"key" varchar(1024) NOT NULL, ` +
        `"value" text NOT NULL, ` +
        `"updated_at" bigint NOT NULL, ` +
        `CONSTRAINT "pk_bridge_state" PRIMARY KEY ("platform", "key"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "bridge_state"`);
  }
}
