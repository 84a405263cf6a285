import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `room_lease`: which gateway process owns a room (scale-out on PostgreSQL, src/rooms/ownership).
 * `epoch` is the fencing token: it grows by one each time the lease changes hands, and every room
 * transaction of the owner checks it (RoomLeaseRepository.fence). Same statements on SQLite and
 * PostgreSQL (on SQLite, one process, the table stays empty).
 */
export class CreateRoomLease1796100000000 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "room_lease" (` +
        `"room_uri" varchar(1024) NOT NULL, ` +
        `"owner" varchar(255) NOT NULL, ` +
        `"epoch" bigint NOT NULL, ` +
        `"expires_at" bigint NOT NULL, ` +
        `CONSTRAINT "pk_room_lease" PRIMARY KEY ("room_uri"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_room_lease_owner" ON "room_lease" ("owner")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_room_lease_owner"`);
    await queryRunner.query(`DROP TABLE "room_lease"`);
  }
}
