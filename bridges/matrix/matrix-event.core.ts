import { CodecError } from '../../src/common/errors';
import { Platform } from '../../src/common/ids';
import type { LegacyRoomRef, LegacyUserRef, RemoteUser } from '../../src/ports';
import type { EchoKeyedInboundEvent } from '../kit/echo-keys';
import type { MentionResolver } from './html-markdown';
import { mediaDownloadUrl, type MatrixIds } from './matrix-ids';

/**
 * The shapes shared by the Matrix event mappers (matrix-event.mapper.ts and the files beside it):
 * the event as a transaction carries it, the mapping context, what an event means to the bridge,
 * and the references to rooms and users they all build.
 */

/** A client-format event as the homeserver pushes it in an appservice transaction. */
export interface MatrixEvent {
  readonly event_id: string;
  readonly room_id: string;
  readonly sender: string;
  readonly type: string;
  readonly content: Record<string, unknown>;
  readonly state_key?: string;
  readonly origin_server_ts: number;
  /** Top-level in room versions ≤ 10; in `content.redacts` from v11 on. */
  readonly redacts?: string;
  readonly unsigned?: {
    readonly prev_content?: Record<string, unknown>;
    readonly transaction_id?: string;
    readonly [k: string]: unknown;
  };
}

export interface PowerLevelsContent {
  readonly users?: Readonly<Record<string, unknown>>;
  readonly users_default?: unknown;
  readonly events?: Readonly<Record<string, unknown>>;
  readonly events_default?: unknown;
  readonly [k: string]: unknown;
}

export interface MapperContext {
  readonly ids: MatrixIds;
  readonly homeserverUrl: string;
  readonly mentions: MentionResolver;
  /** The display name the room knows for a user (from m.room.member), when known. */
  readonly displayNameOf?: (roomId: string, mxid: string) => string | undefined;
  /** The avatar (mxc URI) the room knows for a user (from m.room.member), when known. */
  readonly avatarOf?: (roomId: string, mxid: string) => string | undefined;
}

export type CommandName = 'link' | 'unlink' | 'status' | 'invite' | 'help';

/** What one Matrix event means to the bridge. */
export type MappedEvent =
  | { readonly kind: 'inbound'; readonly events: readonly EchoKeyedInboundEvent[] }
  | { readonly kind: 'command'; readonly command: CommandName; readonly unknown?: string; readonly argument?: string }
  /** A redaction: the bridge looks up the redacted event's type and calls mapRedaction. */
  | { readonly kind: 'redaction'; readonly target: string }
  /** The bot was invited: it accepts, so that admins can talk to it. */
  | { readonly kind: 'botInvite' }
  | { readonly kind: 'ignored'; readonly reason: string };

/** A malformed event: logged with its IDs and skipped, never failing its transaction. */
export class MalformedEventError extends CodecError {}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * The largest event a homeserver may produce (client-server API, "Size limits": 65,536 bytes as
 * canonical JSON). A larger one in a transaction was not made by a homeserver that keeps the rule.
 */
const MAX_EVENT_BYTES = 65_536;

/** Structural check of an event from a transaction. @throws MalformedEventError */
export function asMatrixEvent(raw: unknown): MatrixEvent {
  if (!isRecord(raw)) throw new MalformedEventError('event is not an object');
  const { event_id, room_id, sender, type, content, origin_server_ts } = raw;
  if (typeof event_id !== 'string' || !event_id.startsWith('$')) throw new MalformedEventError('event_id missing');
  const bytes = Buffer.byteLength(JSON.stringify(raw), 'utf8');
  if (bytes > MAX_EVENT_BYTES) {
    throw new MalformedEventError(`event ${event_id} of ${bytes} bytes, over the ${MAX_EVENT_BYTES}-byte limit`);
  }
  if (typeof room_id !== 'string' || !room_id.startsWith('!')) throw new MalformedEventError('room_id missing');
  if (typeof sender !== 'string' || !sender.startsWith('@')) throw new MalformedEventError('sender missing');
  if (typeof type !== 'string' || type.length === 0) throw new MalformedEventError('type missing');
  if (!isRecord(content)) throw new MalformedEventError('content is not an object');
  if (typeof origin_server_ts !== 'number') throw new MalformedEventError('origin_server_ts missing');
  if (raw['state_key'] !== undefined && typeof raw['state_key'] !== 'string') {
    throw new MalformedEventError('state_key is not a string');
  }
  return raw as unknown as MatrixEvent;
}

export function roomRef(roomId: string): LegacyRoomRef {
  return { platform: Platform.Matrix, roomId };
}

/**
 * A ghost becomes the MIMI user it stands for (without a display name: the MIMI participant data
 * is the source of that, not the ghost's Matrix profile); anybody else is a native Matrix user.
 */
export function userRef(
  ctx: MapperContext,
  roomId: string,
  mxid: string,
  displayName?: string,
): LegacyUserRef | RemoteUser {
  const uri = ctx.ids.userUriOfGhost(mxid);
  if (uri !== undefined) return { userUri: uri };
  const name = displayName ?? ctx.displayNameOf?.(roomId, mxid);
  const mxc = ctx.avatarOf?.(roomId, mxid);
  const avatarUrl = mxc === undefined ? undefined : mediaDownloadUrl(ctx.homeserverUrl, mxc);
  return {
    platform: Platform.Matrix,
    userId: mxid,
    ...(name !== undefined ? { displayName: name } : {}),
    ...(avatarUrl !== undefined ? { avatarUrl } : {}),
  };
}

export function legacyUser(mxid: string): LegacyUserRef {
  return { platform: Platform.Matrix, userId: mxid };
}
