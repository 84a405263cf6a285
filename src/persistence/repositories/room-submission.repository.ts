import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock } from '../../common/clock';
import type { RoomUri, UserUri } from '../../common/ids';
import { toBytes, toNumber, toNumberOrNull, toStringOrNull } from '../sql';
import { TransactionRunner, Tx, sqlOf } from '../transaction-runner';

/**
 * `in`: a follower's `/submitMessage` this hub is posting (status posting → accepted | failed).
 * `out`: a local user's message this follower submits to the remote hub
 * (status pending → accepted → confirmed, or rejected).
 */
export type SubmissionDirection = 'in' | 'out';

export type SubmissionStatus = 'posting' | 'accepted' | 'failed' | 'pending' | 'confirmed' | 'rejected';

export interface SubmissionRecord {
  readonly roomUri: RoomUri;
  /** SHA-256 (hex) of the MLS PrivateMessage: how a retried request is recognised. */
  readonly bodySha256: string;
  readonly direction: SubmissionDirection;
  readonly messageId: string;
  readonly senderUri: UserUri;
  /** The MLSMessage (PrivateMessage) exactly as submitted; fanned out unchanged. */
  readonly appMessage: Uint8Array;
  /** The MIMI content CBOR inside it. */
  readonly content: Uint8Array;
  readonly status: SubmissionStatus;
  readonly platformEventId: string | null;
  readonly acceptedAt: number | null;
  readonly lastError: string | null;
  readonly createdAt: number;
}

export type NewSubmission = Omit<SubmissionRecord, 'acceptedAt' | 'lastError' | 'createdAt'> & {
  /**
   * Default: now. A submission replacing an earlier one of the same message (encrypted again after
   * `epochTooOld`) keeps that one's time: submissions go out oldest first (`listWithStatus`), so the
   * replacement must not queue up behind messages written after it.
   */
  readonly createdAt?: number;
};

const COLUMNS =
  'room_uri, body_sha256, direction, message_id, sender_uri, app_message, content, status, platform_event_id, accepted_at, last_error, created_at';

/** `room_submission`: messages on their way through `/submitMessage`, in either direction. */
@Injectable()
export class RoomSubmissionRepository {
  constructor(
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async insert(tx: Tx, s: NewSubmission): Promise<void> {
    await sqlOf(tx).query(
      `INSERT INTO room_submission (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, $10)`,
      [
        s.roomUri,
        s.bodySha256,
        s.direction,
        s.messageId,
        s.senderUri,
        s.appMessage,
        s.content,
        s.status,
        s.platformEventId,
        s.createdAt ?? this.clock.now(),
      ],
    );
  }

  async findByHash(tx: Tx | undefined, roomUri: RoomUri, bodySha256: string): Promise<SubmissionRecord | undefined> {
    if (tx === undefined) return this.transactions.run((own) => this.findByHash(own, roomUri, bodySha256));
    const result = await sqlOf(tx).query(
      `SELECT ${COLUMNS} FROM room_submission WHERE room_uri = $1 AND body_sha256 = $2`,
      [roomUri, bodySha256],
    );
    return result.rows[0] === undefined ? undefined : toSubmission(result.rows[0]);
  }

  /**
   * The submissions of a message (several when it was re-encrypted), the current one first. A
   * re-encryption keeps the time of the submission it replaces (NewSubmission.createdAt), which it
   * marks rejected: among equal times the rejected ones come last.
   */
  async findByMessageId(
    tx: Tx | undefined,
    roomUri: RoomUri,
    messageId: string,
    direction: SubmissionDirection,
  ): Promise<SubmissionRecord[]> {
    if (tx === undefined) {
      return this.transactions.run((own) => this.findByMessageId(own, roomUri, messageId, direction));
    }
    const result = await sqlOf(tx).query(
      `SELECT ${COLUMNS} FROM room_submission WHERE room_uri = $1 AND message_id = $2 AND direction = $3
       ORDER BY created_at DESC, CASE WHEN status = 'rejected' THEN 1 ELSE 0 END`,
      [roomUri, messageId, direction],
    );
    return result.rows.map(toSubmission);
  }

  /** The oldest submission of `sender` in the room with `status`, if any. */
  async oldestWithStatus(
    tx: Tx | undefined,
    roomUri: RoomUri,
    senderUri: UserUri,
    direction: SubmissionDirection,
    status: SubmissionStatus,
  ): Promise<SubmissionRecord | undefined> {
    if (tx === undefined) {
      return this.transactions.run((own) => this.oldestWithStatus(own, roomUri, senderUri, direction, status));
    }
    const result = await sqlOf(tx).query(
      `SELECT ${COLUMNS} FROM room_submission
       WHERE room_uri = $1 AND sender_uri = $2 AND direction = $3 AND status = $4 ORDER BY created_at LIMIT 1`,
      [roomUri, senderUri, direction, status],
    );
    return result.rows[0] === undefined ? undefined : toSubmission(result.rows[0]);
  }

  /**
   * The room's submissions in `direction` with `status`, oldest first (on the hub: the `posting`
   * ones, which go to the platform in this order).
   */
  async listInRoomWithStatus(
    tx: Tx | undefined,
    roomUri: RoomUri,
    direction: SubmissionDirection,
    status: SubmissionStatus,
  ): Promise<SubmissionRecord[]> {
    if (tx === undefined) {
      return this.transactions.run((own) => this.listInRoomWithStatus(own, roomUri, direction, status));
    }
    const result = await sqlOf(tx).query(
      `SELECT ${COLUMNS} FROM room_submission
       WHERE room_uri = $1 AND direction = $2 AND status = $3 ORDER BY created_at`,
      [roomUri, direction, status],
    );
    return result.rows.map(toSubmission);
  }

  /** Every submission in `direction` with `status`, oldest first (work left over from before a restart). */
  async listWithStatus(direction: SubmissionDirection, status: SubmissionStatus): Promise<SubmissionRecord[]> {
    return this.transactions.run(async (tx) => {
      const result = await sqlOf(tx).query(
        `SELECT ${COLUMNS} FROM room_submission WHERE direction = $1 AND status = $2 ORDER BY created_at`,
        [direction, status],
      );
      return result.rows.map(toSubmission);
    });
  }

  /**
   * Move a submission on. With `from`, only when it is in that status (so that two racing
   * completions cannot both win). @returns whether a row changed
   */
  async update(
    tx: Tx,
    roomUri: RoomUri,
    bodySha256: string,
    change: { status: SubmissionStatus; platformEventId?: string; acceptedAt?: number; lastError?: string },
    from?: SubmissionStatus,
  ): Promise<boolean> {
    const result = await sqlOf(tx).query(
      `UPDATE room_submission SET status = $3,
         platform_event_id = COALESCE($4, platform_event_id),
         accepted_at = COALESCE($5, accepted_at),
         last_error = $6
       WHERE room_uri = $1 AND body_sha256 = $2 AND ($7 = '' OR status = $7)`,
      [
        roomUri,
        bodySha256,
        change.status,
        change.platformEventId ?? null,
        change.acceptedAt ?? null,
        change.lastError ?? null,
        from ?? '',
      ],
    );
    return result.affected === 1;
  }
}

function toSubmission(row: Record<string, unknown>): SubmissionRecord {
  return {
    roomUri: String(row.room_uri) as RoomUri,
    bodySha256: String(row.body_sha256),
    direction: String(row.direction) as SubmissionDirection,
    messageId: String(row.message_id),
    senderUri: String(row.sender_uri) as UserUri,
    appMessage: new Uint8Array(toBytes(row.app_message)),
    content: new Uint8Array(toBytes(row.content)),
    status: String(row.status) as SubmissionStatus,
    platformEventId: toStringOrNull(row.platform_event_id),
    acceptedAt: toNumberOrNull(row.accepted_at),
    lastError: toStringOrNull(row.last_error),
    createdAt: toNumber(row.created_at),
  };
}
