import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `media_asset`: the attachments this gateway serves to its peers (src/rooms/media-assets.ts):
 * an opaque asset ID it minted → the room it was posted in and the platform URL of the bytes.
 * Same statements on SQLite and PostgreSQL.
 */
export class CreateMediaAsset1796200000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "media_asset" (` +
        `"asset_id" varchar(64) NOT NULL, ` +
        `"room_uri" varchar(2048) NOT NULL, ` +
        `"platform" varchar(32) NOT NULL, ` +
        `"source_url" text NOT NULL, ` +
        `"content_type" varchar(255) NOT NULL, ` +
        `"created_at" bigint NOT NULL, ` +
        `CONSTRAINT "pk_media_asset" PRIMARY KEY ("asset_id"))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "media_asset"`);
  }
}
