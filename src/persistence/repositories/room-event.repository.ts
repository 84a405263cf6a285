import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock } from '../../common/clock';
import type { RoomUri, UserUri } from '../../common/ids';
import { toBytes, toNumber } from '../sql';
import { TransactionRunner, Tx, sqlOf } from '../transaction-runner';

/**
 * Whether a stored message still has to be shown on the legacy platform: `none` (it came from the
 * platform, or it is our own submission coming back), `pending` (a follower has to render it),
 * `done`, `failed` (the platform refused it for good).
 */
export type RenderStatus = 'none' | 'pending' | 'done' | 'failed';

/** One MIMI message in a room's ordered log. */
export interface RoomEventRecord {
  readonly roomUri: RoomUri;
  /** Position in this gateway's log of the room: the hub's order on the hub, arrival order on a follower. */
  readonly seq: number;
  /** content-08 §3.3 message ID, lower-case hex. */
  readonly messageId: string;
  readonly senderUri: UserUri;
  /** What the content does: text, reply, edit, delete, reaction, unlike. */
  readonly kind: string;
  /** The MIMI content CBOR as received or sent. */
  readonly content: Uint8Array;
  /** Hub acceptance time (ms since the epoch). */
  readonly acceptedAt: number;
  readonly renderStatus: RenderStatus;
  readonly renderAttempts: number;
  readonly createdAt: number;
}

export type NewRoomEvent = Omit<RoomEventRecord, 'renderAttempts' | 'createdAt'>;

/** A legacy platform event we have seen or created, and the MIMI message it is (when it is one). */
export interface LegacyEventRecord {
  readonly roomUri: RoomUri;
  readonly messageId: string | null;
}

const EVENT_COLUMNS =
  'room_uri, seq, message_id, sender_uri, kind, content, accepted_at, render_status, render_attempts, created_at';

/** `room_event` (the message log) and `legacy_event` (legacy event ID ↔ MIMI message ID, and inbound de-duplication). */
@Injectable()
export class RoomEventRepository {
  constructor(
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** @returns false when the room already has a message with this ID (nothing stored). */
  async insert(tx: Tx, event: NewRoomEvent): Promise<boolean> {
    const result = await sqlOf(tx).query(
      `INSERT INTO room_event (${EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)
       ON CONFLICT (room_uri, message_id) DO NOTHING`,
      [
        event.roomUri,
        event.seq,
        event.messageId,
        event.senderUri,
        event.kind,
        event.content,
        event.acceptedAt,
        event.renderStatus,
        this.clock.now(),
      ],
    );
    return result.affected === 1;
  }

  async findByMessageId(tx: Tx | undefined, roomUri: RoomUri, messageId: string): Promise<RoomEventRecord | undefined> {
    if (tx === undefined) return this.transactions.run((own) => this.findByMessageId(own, roomUri, messageId));
    const result = await sqlOf(tx).query(
      `SELECT ${EVENT_COLUMNS} FROM room_event WHERE room_uri = $1 AND message_id = $2`,
      [roomUri, messageId],
    );
    return result.rows[0] === undefined ? undefined : toEvent(result.rows[0]);
  }

  /** The room's log in order. */
  async list(roomUri: RoomUri): Promise<RoomEventRecord[]> {
    return this.transactions.run(async (tx) => {
      const result = await sqlOf(tx).query(`SELECT ${EVENT_COLUMNS} FROM room_event WHERE room_uri = $1 ORDER BY seq`, [
        roomUri,
      ]);
      return result.rows.map(toEvent);
    });
  }

  /** The oldest message of the room still waiting to be rendered. */
  /** The room's next `limit` events to render, in log order. */
  async nextToRender(roomUri: RoomUri, limit = 1): Promise<RoomEventRecord[]> {
    return this.transactions.run(async (tx) => {
      const result = await sqlOf(tx).query(
        `SELECT ${EVENT_COLUMNS} FROM room_event WHERE render_status = 'pending' AND room_uri = $1 ORDER BY seq LIMIT $2`,
        [roomUri, limit],
      );
      return result.rows.map(toEvent);
    });
  }

  async roomsWithPendingRender(): Promise<RoomUri[]> {
    return this.transactions.run(async (tx) => {
      const result = await sqlOf(tx).query(
        `SELECT DISTINCT room_uri FROM room_event WHERE render_status = 'pending' ORDER BY room_uri`,
      );
      return result.rows.map((r) => String(r.room_uri) as RoomUri);
    });
  }

  /** Events waiting to be rendered into their platform rooms (all rooms; a metric). */
  async countPendingRender(): Promise<number> {
    return this.transactions.run(async (tx) => {
      const result = await sqlOf(tx).query(`SELECT COUNT(*) AS n FROM room_event WHERE render_status = 'pending'`);
      return toNumber(result.rows[0]?.n ?? 0);
    });
  }

  async setRenderStatus(tx: Tx, roomUri: RoomUri, seq: number, status: RenderStatus): Promise<void> {
    await sqlOf(tx).query(
      `UPDATE room_event SET render_status = $3, render_attempts = render_attempts + 1 WHERE room_uri = $1 AND seq = $2`,
      [roomUri, seq, status],
    );
  }

  async countRenderAttempt(roomUri: RoomUri, seq: number): Promise<void> {
    await this.transactions.run((tx) =>
      sqlOf(tx).query(`UPDATE room_event SET render_attempts = render_attempts + 1 WHERE room_uri = $1 AND seq = $2`, [
        roomUri,
        seq,
      ]),
    );
  }

  /**
   * Remember a legacy event (its platform ID) and the MIMI message it is, if any.
   * @returns false when the platform event was recorded before (a duplicate delivery)
   */
  async recordLegacyEvent(
    tx: Tx,
    e: { platform: string; platformEventId: string; roomUri: RoomUri; messageId: string | null },
  ): Promise<boolean> {
    const result = await sqlOf(tx).query(
      `INSERT INTO legacy_event (platform, platform_event_id, room_uri, message_id, created_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [e.platform, e.platformEventId, e.roomUri, e.messageId, this.clock.now()],
    );
    return result.affected === 1;
  }

  async findLegacyEvent(
    tx: Tx | undefined,
    platform: string,
    platformEventId: string,
  ): Promise<LegacyEventRecord | undefined> {
    if (tx === undefined) return this.transactions.run((own) => this.findLegacyEvent(own, platform, platformEventId));
    const result = await sqlOf(tx).query(
      `SELECT room_uri, message_id FROM legacy_event WHERE platform = $1 AND platform_event_id = $2`,
      [platform, platformEventId],
    );
    const row = result.rows[0];
    if (row === undefined) return undefined;
    return {
      roomUri: String(row.room_uri) as RoomUri,
      messageId: row.message_id === null ? null : String(row.message_id),
    };
  }

  /**
   * The MIMI message ID of platform event `platformEventId` if it is a message of `roomUri`: a
   * reply, edit or reaction naming an event of ANOTHER room resolves to nothing (T43; platform
   * event IDs are unique per platform, not per room, so the lookup alone would cross rooms).
   */
  async findMessageIdInRoom(
    tx: Tx | undefined,
    roomUri: RoomUri,
    platform: string,
    platformEventId: string,
  ): Promise<string | undefined> {
    const event = await this.findLegacyEvent(tx, platform, platformEventId);
    return event?.roomUri === roomUri ? (event.messageId ?? undefined) : undefined;
  }

  /**
   * `findPlatformEventId` for every message of the room at once (message ID → the earliest platform
   * event ID recorded for it): one query instead of one per event when a whole log is listed.
   */
  async platformEventIds(tx: Tx | undefined, roomUri: RoomUri, platform: string): Promise<Map<string, string>> {
    if (tx === undefined) return this.transactions.run((own) => this.platformEventIds(own, roomUri, platform));
    const result = await sqlOf(tx).query(
      `SELECT message_id, platform_event_id FROM legacy_event
       WHERE room_uri = $1 AND platform = $2 AND message_id IS NOT NULL ORDER BY created_at`,
      [roomUri, platform],
    );
    const ids = new Map<string, string>();
    for (const row of result.rows) {
      const messageId = String(row.message_id);
      if (!ids.has(messageId)) ids.set(messageId, String(row.platform_event_id));
    }
    return ids;
  }

  /** The platform's ID of a MIMI message in this room (the earliest if several), if we know it. */
  async findPlatformEventId(
    tx: Tx | undefined,
    roomUri: RoomUri,
    platform: string,
    messageId: string,
  ): Promise<string | undefined> {
    if (tx === undefined) {
      return this.transactions.run((own) => this.findPlatformEventId(own, roomUri, platform, messageId));
    }
    const result = await sqlOf(tx).query(
      `SELECT platform_event_id FROM legacy_event WHERE room_uri = $1 AND message_id = $2 AND platform = $3
       ORDER BY created_at LIMIT 1`,
      [roomUri, messageId, platform],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : String(row.platform_event_id);
  }
}

function toEvent(row: Record<string, unknown>): RoomEventRecord {
  return {
    roomUri: String(row.room_uri) as RoomUri,
    seq: toNumber(row.seq),
    messageId: String(row.message_id),
    senderUri: String(row.sender_uri) as UserUri,
    kind: String(row.kind),
    content: new Uint8Array(toBytes(row.content)),
    acceptedAt: toNumber(row.accepted_at),
    renderStatus: String(row.render_status) as RenderStatus,
    renderAttempts: toNumber(row.render_attempts),
    createdAt: toNumber(row.created_at),
  };
}
