import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock } from '../../common/clock';
import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import { toNumber } from '../sql';
import { TransactionRunner, Tx, sqlOf } from '../transaction-runner';

/** Whether this gateway is the room's hub or one of its followers (protocol-06 §3). */
export type RoomRole = 'hub' | 'follower';

/** A MIMI room linked to a legacy room (hub) or mirrored into one (follower). */
export interface RoomRecord {
  readonly roomUri: RoomUri;
  readonly role: RoomRole;
  readonly hubDomain: ProviderDomain;
  readonly platform: string;
  readonly legacyRoomId: string;
  /** Last position handed out for a fan-out item (message, commit, Welcome) of this room. */
  readonly fanoutSeq: number;
  /** Last position handed out in the room's message log (`room_event.seq`). */
  readonly eventSeq: number;
  readonly createdAt: number;
}

export interface NewRoom {
  readonly roomUri: RoomUri;
  readonly role: RoomRole;
  readonly hubDomain: ProviderDomain;
  readonly platform: string;
  readonly legacyRoomId: string;
}

const ROOM_COLUMNS = 'room_uri, role, hub_domain, platform, legacy_room_id, fanout_seq, event_seq, created_at';

/** `mimi_room` and `room_local_member`: which rooms exist here and which of our MLS clients are in each. */
@Injectable()
export class RoomRepository {
  constructor(
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async insert(tx: Tx, room: NewRoom): Promise<void> {
    await sqlOf(tx).query(`INSERT INTO mimi_room (${ROOM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, 0, 0, $6)`, [
      room.roomUri,
      room.role,
      room.hubDomain,
      room.platform,
      room.legacyRoomId,
      this.clock.now(),
    ]);
  }

  async findByUri(tx: Tx | undefined, roomUri: RoomUri): Promise<RoomRecord | undefined> {
    if (tx === undefined) return this.transactions.run((own) => this.findByUri(own, roomUri));
    const result = await sqlOf(tx).query(`SELECT ${ROOM_COLUMNS} FROM mimi_room WHERE room_uri = $1`, [roomUri]);
    return result.rows[0] === undefined ? undefined : toRoom(result.rows[0]);
  }

  async findByLegacyRoom(tx: Tx | undefined, platform: string, legacyRoomId: string): Promise<RoomRecord | undefined> {
    if (tx === undefined) return this.transactions.run((own) => this.findByLegacyRoom(own, platform, legacyRoomId));
    const result = await sqlOf(tx).query(
      `SELECT ${ROOM_COLUMNS} FROM mimi_room WHERE platform = $1 AND legacy_room_id = $2`,
      [platform, legacyRoomId],
    );
    return result.rows[0] === undefined ? undefined : toRoom(result.rows[0]);
  }

  async list(): Promise<RoomRecord[]> {
    return this.transactions.run(async (tx) => {
      const result = await sqlOf(tx).query(`SELECT ${ROOM_COLUMNS} FROM mimi_room ORDER BY created_at, room_uri`);
      return result.rows.map(toRoom);
    });
  }

  /** Link the room to another legacy room of its platform (a room upgrade). @returns false when there was no such room. */
  async moveLegacyRoom(tx: Tx, roomUri: RoomUri, legacyRoomId: string): Promise<boolean> {
    const moved = await sqlOf(tx).query(`UPDATE mimi_room SET legacy_room_id = $2 WHERE room_uri = $1`, [
      roomUri,
      legacyRoomId,
    ]);
    return moved.affected === 1;
  }

  /** Remove the room and its local-member rows. @returns false when there was no such room. */
  async delete(tx: Tx, roomUri: RoomUri): Promise<boolean> {
    const sql = sqlOf(tx);
    await sql.query(`DELETE FROM room_local_member WHERE room_uri = $1`, [roomUri]);
    const deleted = await sql.query(`DELETE FROM mimi_room WHERE room_uri = $1`, [roomUri]);
    return deleted.affected === 1;
  }

  /**
   * Reserve `count` consecutive fan-out positions of the room in `tx`.
   * @returns the first of them
   */
  async allocateFanoutSeq(tx: Tx, roomUri: RoomUri, count: number): Promise<number> {
    const result = await sqlOf(tx).query(
      `UPDATE mimi_room SET fanout_seq = fanout_seq + $2 WHERE room_uri = $1 RETURNING fanout_seq`,
      [roomUri, count],
    );
    if (result.rows[0] === undefined) throw new Error(`no room ${roomUri}`);
    return toNumber(result.rows[0].fanout_seq) - count + 1;
  }

  /** The next position in the room's message log, reserved in `tx`. */
  async allocateEventSeq(tx: Tx, roomUri: RoomUri): Promise<number> {
    const result = await sqlOf(tx).query(
      `UPDATE mimi_room SET event_seq = event_seq + 1 WHERE room_uri = $1 RETURNING event_seq`,
      [roomUri],
    );
    if (result.rows[0] === undefined) throw new Error(`no room ${roomUri}`);
    return toNumber(result.rows[0].event_seq);
  }

  async addLocalMember(tx: Tx, roomUri: RoomUri, user: UserUri): Promise<void> {
    await sqlOf(tx).query(
      `INSERT INTO room_local_member (room_uri, user_uri, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [roomUri, user, this.clock.now()],
    );
  }

  async removeLocalMember(tx: Tx, roomUri: RoomUri, user: UserUri): Promise<void> {
    await sqlOf(tx).query(`DELETE FROM room_local_member WHERE room_uri = $1 AND user_uri = $2`, [roomUri, user]);
  }

  /** Our MLS clients in the room, in the order they were added. */
  async localMembers(tx: Tx | undefined, roomUri: RoomUri): Promise<UserUri[]> {
    if (tx === undefined) return this.transactions.run((own) => this.localMembers(own, roomUri));
    const result = await sqlOf(tx).query(
      `SELECT user_uri FROM room_local_member WHERE room_uri = $1 ORDER BY added_at, user_uri`,
      [roomUri],
    );
    return result.rows.map((r) => String(r.user_uri) as UserUri);
  }
}

function toRoom(row: Record<string, unknown>): RoomRecord {
  return {
    roomUri: String(row.room_uri) as RoomUri,
    role: String(row.role) as RoomRole,
    hubDomain: String(row.hub_domain) as ProviderDomain,
    platform: String(row.platform),
    legacyRoomId: String(row.legacy_room_id),
    fanoutSeq: toNumber(row.fanout_seq),
    eventSeq: toNumber(row.event_seq),
    createdAt: toNumber(row.created_at),
  };
}
