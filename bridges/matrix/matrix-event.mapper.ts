import { CodecError } from '../../src/common/errors';
import { Platform } from '../../src/common/ids';
import {
  type Attachment,
  type InboundEvent,
  type LegacyRoomRef,
  type LegacyUserRef,
  type Membership,
  type MessageAction,
  type MessageBody,
  ParticipantRole,
  type RemoteUser,
} from '../../src/ports';
import type { EchoKeyedInboundEvent } from '../kit/echo-keys';
import { htmlToMarkdown, markdownToHtml, type MentionResolver } from './html-markdown';
import { mediaDownloadUrl, mxcOfDownloadUrl, type MatrixIds } from './matrix-ids';
import { permissionsChanged, permissionsFromPowerLevels } from './power-permissions';

/**
 * Matrix events ↔ the port's platform-neutral shapes (pure; the bridge does the I/O).
 * Matrix references: client-server API v1.15, "m.room.message msgtypes", "Rich replies",
 * "Event replacements", "Reactions" (m.annotation), "Redactions", "User and room mentions",
 * "m.room.power_levels"; MIMI: draft-ietf-mimi-content-08 §5.
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

const COMMAND_RE = /^!mimi(?:[ \t]+(\S+)(?:[ \t]+(\S+))?)?[ \t]*$/;
const COMMANDS: ReadonlySet<string> = new Set(['link', 'unlink', 'status', 'invite', 'help']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Structural check of an event from a transaction. @throws MalformedEventError */
export function asMatrixEvent(raw: unknown): MatrixEvent {
  if (!isRecord(raw)) throw new MalformedEventError('event is not an object');
  const { event_id, room_id, sender, type, content, origin_server_ts } = raw;
  if (typeof event_id !== 'string' || !event_id.startsWith('$')) throw new MalformedEventError('event_id missing');
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

function legacyUser(mxid: string): LegacyUserRef {
  return { platform: Platform.Matrix, userId: mxid };
}

// ---------------------------------------------------------------------------------------------
// Roles ↔ power levels
// ---------------------------------------------------------------------------------------------

/** Power level written for each role (setRole); read back by roleForPowerLevel. */
const POWER_LEVEL_FOR_ROLE: Readonly<Record<Exclude<ParticipantRole, ParticipantRole.Banned>, number>> = {
  [ParticipantRole.Owner]: 100,
  [ParticipantRole.Admin]: 75,
  [ParticipantRole.Moderator]: 50,
  [ParticipantRole.Member]: 0,
  [ParticipantRole.Visitor]: -1,
};

function int(v: unknown, fallback: number): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  // Older rooms may carry levels as strings; the spec's grammar is an integer.
  if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) return Number(v);
  return fallback;
}

/**
 * Room version 12 ("privileged creators"): the creator and `additional_creators` of m.room.create
 * have an infinite power level and never appear in m.room.power_levels. Empty for older versions.
 */
export function creatorsOf(create: { sender: string; content: Record<string, unknown> } | undefined): Set<string> {
  if (!create) return new Set();
  const version = str(create.content['room_version']) ?? '1';
  const privileged = (/^\d+$/.test(version) && Number(version) >= 12) || version === 'org.matrix.hydra.11';
  if (!privileged) return new Set();
  const extra = Array.isArray(create.content['additional_creators']) ? create.content['additional_creators'] : [];
  return new Set([create.sender, ...extra.filter((x): x is string => typeof x === 'string')]);
}

/** The level a user has in a power-levels content (spec defaults: users_default 0; creators of v12 rooms: infinite). */
export function powerLevelOf(pl: PowerLevelsContent | undefined, mxid: string, creators?: ReadonlySet<string>): number {
  if (creators?.has(mxid)) return Number.POSITIVE_INFINITY;
  if (!pl) return 0;
  const users = isRecord(pl.users) ? pl.users : {};
  return int(users[mxid], int(pl.users_default, 0));
}

/** The level needed to send messages (events['m.room.message'] or events_default, spec default 0). */
export function sendLevelOf(pl: PowerLevelsContent | undefined): number {
  if (!pl) return 0;
  const events = isRecord(pl.events) ? pl.events : {};
  return int(events['m.room.message'], int(pl.events_default, 0));
}

/**
 * Role for a power level: ≥100 owner, ≥75 admin, ≥50 moderator, below the level needed to
 * post visitor, otherwise member.
 */
export function roleForPowerLevel(level: number, sendLevel: number): ParticipantRole {
  if (level >= 100) return ParticipantRole.Owner;
  if (level >= 75) return ParticipantRole.Admin;
  if (level >= 50) return ParticipantRole.Moderator;
  if (level < sendLevel) return ParticipantRole.Visitor;
  return ParticipantRole.Member;
}

/** The power level to give for a role, given the room's levels (a visitor sits just below posting, a member at it). */
export function powerLevelForRole(
  role: Exclude<ParticipantRole, ParticipantRole.Banned>,
  pl?: PowerLevelsContent,
): number {
  if (role === ParticipantRole.Visitor) return Math.min(-1, sendLevelOf(pl) - 1);
  // A member must be able to post, even where posting needs more than the default level.
  if (role === ParticipantRole.Member) return Math.min(49, Math.max(0, sendLevelOf(pl)));
  return POWER_LEVEL_FOR_ROLE[role];
}

/**
 * Role changes carried by a power-levels event: one InboundEvent per user whose role differs
 * from `previous` (the event's prev_content, or the last levels the bridge saw). Users are those
 * named in either content; a change of users_default/events_default is reported for them only.
 * Each gets platformEventId `<event id>#<user id>`, since one Matrix event yields several.
 */
export function mapPowerLevels(ev: MatrixEvent, ctx: MapperContext, previous?: PowerLevelsContent): InboundEvent[] {
  const next = ev.content as PowerLevelsContent;
  const prev =
    previous ?? (isRecord(ev.unsigned?.prev_content) ? (ev.unsigned.prev_content as PowerLevelsContent) : undefined);
  const users = new Set<string>([
    ...Object.keys(isRecord(next.users) ? next.users : {}),
    ...Object.keys(isRecord(prev?.users) ? prev.users : {}),
  ]);
  const out: InboundEvent[] = [];
  for (const mxid of [...users].sort()) {
    if (mxid === ctx.ids.botUserId || !mxid.startsWith('@')) continue;
    const role = roleForPowerLevel(powerLevelOf(next, mxid), sendLevelOf(next));
    if (prev !== undefined && roleForPowerLevel(powerLevelOf(prev, mxid), sendLevelOf(prev)) === role) continue;
    out.push({
      kind: 'role',
      room: roomRef(ev.room_id),
      platformEventId: `${ev.event_id}#${mxid}`,
      user: userRef(ctx, ev.room_id, mxid),
      role,
      by: legacyUser(ev.sender),
      timestamp: ev.origin_server_ts,
    });
  }
  // What each role may do changed too (or is not known to have stayed): the room's roles_list follows.
  if (prev === undefined || permissionsChanged(prev, next)) {
    out.push({
      kind: 'roomPolicy',
      room: roomRef(ev.room_id),
      platformEventId: `${ev.event_id}#permissions`,
      permissions: permissionsFromPowerLevels(next),
      timestamp: ev.origin_server_ts,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Membership
// ---------------------------------------------------------------------------------------------

/** m.room.member → a participant-list change (invite, join, leave, kick, ban, unban). */
function mapMembership(ev: MatrixEvent, ctx: MapperContext): MappedEvent {
  const target = ev.state_key;
  if (target === undefined || !target.startsWith('@')) throw new MalformedEventError('m.room.member without a user');
  const membership = str(ev.content['membership']);
  const prev = str(ev.unsigned?.prev_content?.['membership']);
  if (target === ctx.ids.botUserId) {
    return membership === 'invite' ? { kind: 'botInvite' } : { kind: 'ignored', reason: 'bot membership' };
  }
  const self = ev.sender === target;
  let m: Membership | undefined;
  switch (membership) {
    case 'invite':
      m = prev === 'invite' ? undefined : 'invite';
      break;
    case 'join':
      // A join after a join only changes the profile (display name, avatar).
      m = prev === 'join' ? undefined : 'join';
      break;
    case 'leave':
      if (prev === 'ban') m = 'unban';
      else if (prev === 'leave') m = undefined;
      else m = self ? 'leave' : 'kick';
      break;
    case 'ban':
      m = prev === 'ban' ? undefined : 'ban';
      break;
    case undefined:
    default:
      m = undefined; // knock, or an unknown membership
  }
  if (m === undefined) return { kind: 'ignored', reason: `membership ${prev ?? 'none'} → ${membership ?? 'none'}` };
  const displayName = membership === 'join' || membership === 'invite' ? str(ev.content['displayname']) : undefined;
  const reason = str(ev.content['reason']);
  const event: InboundEvent = {
    kind: 'membership',
    room: roomRef(ev.room_id),
    platformEventId: ev.event_id,
    user: userRef(ctx, ev.room_id, target, displayName),
    membership: m,
    ...(self ? {} : { by: legacyUser(ev.sender) }),
    ...(reason !== undefined ? { reason } : {}),
    timestamp: ev.origin_server_ts,
  };
  return { kind: 'inbound', events: [event] };
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/**
 * Rich replies: remove the fallback a client may still put in front of a reply (spec v1.13
 * deprecated it): the leading `> ` quote lines and the blank line after them.
 */
export function stripReplyFallback(body: string): string {
  const lines = body.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith('>')) i++;
  if (i === 0) return body;
  if (i < lines.length && lines[i] === '') i++;
  return lines.slice(i).join('\n');
}

/** `<mx-reply>…</mx-reply>` is the HTML fallback; the Markdown converter drops it (and every other tag it does not know). */
function relatesTo(content: Record<string, unknown>): Record<string, unknown> | undefined {
  const r = content['m.relates_to'];
  return isRecord(r) ? r : undefined;
}

function inReplyToOf(content: Record<string, unknown>): string | undefined {
  const r = relatesTo(content);
  if (!r) return undefined;
  const reply = r['m.in_reply_to'];
  const replyTo = isRecord(reply) ? str(reply['event_id']) : undefined;
  if (replyTo !== undefined) return replyTo;
  // A thread message without an explicit reply: it answers the thread root (threads are flattened).
  return r['rel_type'] === 'm.thread' ? str(r['event_id']) : undefined;
}

const MEDIA_MSGTYPES: ReadonlySet<string> = new Set(['m.image', 'm.file', 'm.video', 'm.audio']);

function attachmentOf(content: Record<string, unknown>, ctx: MapperContext): Attachment | undefined {
  const mxc = str(content['url']);
  if (mxc === undefined) return undefined; // encrypted media (`file`) is not supported
  const url = mediaDownloadUrl(ctx.homeserverUrl, mxc);
  if (url === undefined) return undefined;
  const info = isRecord(content['info']) ? content['info'] : {};
  const body = str(content['body']);
  const filename = str(content['filename']) ?? body;
  // Since v1.10, `body` is a caption when `filename` is present and differs from it.
  const caption = str(content['filename']) !== undefined && body !== undefined && body !== filename ? body : undefined;
  const size = typeof info['size'] === 'number' && Number.isSafeInteger(info['size']) ? info['size'] : undefined;
  return {
    url,
    contentType: str(info['mimetype']) ?? 'application/octet-stream',
    ...(size !== undefined ? { size } : {}),
    ...(filename !== undefined ? { filename } : {}),
    ...(caption !== undefined ? { description: caption } : {}),
  };
}

/** A message content (or an edit's m.new_content) → MessageBody. @throws MalformedEventError */
function messageBodyOf(content: Record<string, unknown>, ctx: MapperContext, isReply: boolean): MessageBody {
  const msgtype = str(content['msgtype']);
  let text = str(content['body']);
  if (text === undefined) throw new MalformedEventError('message without a string body');
  if (isReply) text = stripReplyFallback(text);
  const kind: MessageBody['kind'] = msgtype === 'm.notice' ? 'notice' : msgtype === 'm.emote' ? 'emote' : 'text';
  const mentionIds = new Set<string>();
  const mentions = isRecord(content['m.mentions']) ? content['m.mentions'] : undefined;
  if (mentions && Array.isArray(mentions['user_ids'])) {
    for (const id of mentions['user_ids']) if (typeof id === 'string' && id.startsWith('@')) mentionIds.add(id);
  }
  let markdown: string | undefined;
  const formatted = str(content['formatted_body']);
  if (content['format'] === 'org.matrix.custom.html' && formatted !== undefined) {
    const md = htmlToMarkdown(formatted, ctx.mentions);
    markdown = md.markdown;
    // Without m.mentions (older clients), pills are the mentions.
    if (!mentions) for (const id of md.mentionedMxids) mentionIds.add(id);
  }
  let attachments: Attachment[] | undefined;
  if (msgtype !== undefined && MEDIA_MSGTYPES.has(msgtype)) {
    const a = attachmentOf(content, ctx);
    if (a) {
      attachments = [a];
      text = a.description ?? '';
      markdown = undefined;
    }
  }
  const mentionRefs = [...mentionIds].map((id) => {
    const uri = ctx.ids.userUriOfGhost(id);
    return uri ?? legacyUser(id);
  });
  return {
    kind,
    text,
    ...(markdown !== undefined && markdown !== '' ? { markdown } : {}),
    ...(attachments ? { attachments } : {}),
    ...(mentionRefs.length ? { mentions: mentionRefs } : {}),
  };
}

function messageEvent(ev: MatrixEvent, ctx: MapperContext, action: MessageAction): EchoKeyedInboundEvent {
  const txn = str(ev.unsigned?.transaction_id);
  return {
    kind: 'message',
    room: roomRef(ev.room_id),
    platformEventId: ev.event_id,
    sender: userRef(ctx, ev.room_id, ev.sender),
    action,
    timestamp: ev.origin_server_ts,
    ...(txn !== undefined ? { echoKeys: [txn] } : {}),
  };
}

function mapRoomMessage(ev: MatrixEvent, ctx: MapperContext): MappedEvent {
  const c = ev.content;
  const rel = relatesTo(c);
  if (rel?.['rel_type'] === 'm.replace') {
    const target = str(rel['event_id']);
    const newContent = c['m.new_content'];
    if (target === undefined || !isRecord(newContent)) {
      throw new MalformedEventError('edit without target or m.new_content');
    }
    return {
      kind: 'inbound',
      events: [
        messageEvent(ev, ctx, {
          type: 'edit',
          target: { platformEventId: target },
          body: messageBodyOf(newContent, ctx, false),
        }),
      ],
    };
  }
  const body = str(c['body']);
  if (body !== undefined && c['msgtype'] === 'm.text' && !ctx.ids.isOwnUser(ev.sender) && /^!mimi(\s|$)/.test(body)) {
    const m = COMMAND_RE.exec(body);
    const word = m?.[1]?.toLowerCase() ?? (m ? 'help' : undefined);
    const argument = m?.[2];
    if (word === 'invite') return { kind: 'command', command: 'invite', ...(argument ? { argument } : {}) };
    if (word !== undefined && COMMANDS.has(word) && argument === undefined) {
      return { kind: 'command', command: word as CommandName };
    }
    return { kind: 'command', command: 'help', unknown: body.slice(0, 64) };
  }
  const inReplyTo = inReplyToOf(c);
  const action: MessageAction =
    inReplyTo !== undefined
      ? { type: 'post', body: messageBodyOf(c, ctx, true), inReplyTo: { platformEventId: inReplyTo } }
      : { type: 'post', body: messageBodyOf(c, ctx, false) };
  return { kind: 'inbound', events: [messageEvent(ev, ctx, action)] };
}

function mapReaction(ev: MatrixEvent, ctx: MapperContext): MappedEvent {
  const rel = relatesTo(ev.content);
  const target = rel ? str(rel['event_id']) : undefined;
  const key = rel ? str(rel['key']) : undefined;
  if (rel?.['rel_type'] !== 'm.annotation' || target === undefined || key === undefined || key.length === 0) {
    throw new MalformedEventError('m.reaction without an m.annotation target and key');
  }
  return {
    kind: 'inbound',
    events: [messageEvent(ev, ctx, { type: 'react', target: { platformEventId: target }, key })],
  };
}

/** The event a redaction removes (content.redacts from room v11, top-level redacts before). */
function redactedEventId(ev: MatrixEvent): string | undefined {
  return str(ev.content['redacts']) ?? ev.redacts;
}

/**
 * A redaction, once the bridge knows what it redacted: a reaction's redaction is an unlike
 * (content-08 §5.7), anything else a delete (§5.6).
 */
export function mapRedaction(ev: MatrixEvent, ctx: MapperContext, targetType: string | undefined): InboundEvent {
  const target = redactedEventId(ev);
  if (target === undefined) throw new MalformedEventError('redaction without redacts');
  const action: MessageAction =
    targetType === 'm.reaction'
      ? { type: 'unreact', reaction: { platformEventId: target } }
      : { type: 'delete', target: { platformEventId: target } };
  return messageEvent(ev, ctx, action);
}

function mapMetadata(ev: MatrixEvent, ctx: MapperContext): MappedEvent {
  if (ev.state_key !== '') return { kind: 'ignored', reason: 'state event with a non-empty state_key' };
  const base = {
    kind: 'roomMetadata' as const,
    room: roomRef(ev.room_id),
    platformEventId: ev.event_id,
    // Who changed it (not the bot, whose changes are the bridge's own rendering).
    ...(ev.sender !== ctx.ids.botUserId && !ctx.ids.isOwnUser(ev.sender) ? { by: legacyUser(ev.sender) } : {}),
    timestamp: ev.origin_server_ts,
  };
  switch (ev.type) {
    case 'm.room.name':
      return { kind: 'inbound', events: [{ ...base, name: str(ev.content['name']) ?? '' }] };
    case 'm.room.topic':
      return { kind: 'inbound', events: [{ ...base, topic: str(ev.content['topic']) ?? '' }] };
    default:
      return { kind: 'inbound', events: [{ ...base, avatarUrl: '' }] };
  }
}

/**
 * Everything but redactions (which need a lookup) and power levels (which need the previous
 * levels; see mapPowerLevels). @throws MalformedEventError for an event that breaks the spec.
 */
export function mapMatrixEvent(ev: MatrixEvent, ctx: MapperContext): MappedEvent {
  switch (ev.type) {
    case 'm.room.message':
      return mapRoomMessage(ev, ctx);
    case 'm.reaction':
      return mapReaction(ev, ctx);
    case 'm.room.redaction': {
      const target = redactedEventId(ev);
      if (target === undefined) throw new MalformedEventError('redaction without redacts');
      return { kind: 'redaction', target };
    }
    case 'm.room.member':
      return mapMembership(ev, ctx);
    case 'm.room.power_levels':
      if (ev.state_key !== '') return { kind: 'ignored', reason: 'power levels with a state_key' };
      return { kind: 'inbound', events: mapPowerLevels(ev, ctx) };
    case 'm.room.name':
    case 'm.room.topic':
      return mapMetadata(ev, ctx);
    case 'm.room.join_rules': {
      if (ev.state_key !== '') return { kind: 'ignored', reason: 'state event with a non-empty state_key' };
      const joinRule = ev.content['join_rule'] === 'public' ? 'public' : 'invite';
      const base = { room: roomRef(ev.room_id), platformEventId: ev.event_id, timestamp: ev.origin_server_ts };
      return { kind: 'inbound', events: [{ kind: 'roomPolicy', ...base, joinRule }] };
    }
    case 'm.room.avatar': {
      if (ev.state_key !== '') return { kind: 'ignored', reason: 'state event with a non-empty state_key' };
      const mxc = str(ev.content['url']);
      const url = mxc === undefined ? '' : (mediaDownloadUrl(ctx.homeserverUrl, mxc) ?? '');
      return {
        kind: 'inbound',
        events: [
          {
            kind: 'roomMetadata',
            room: roomRef(ev.room_id),
            platformEventId: ev.event_id,
            avatarUrl: url,
            timestamp: ev.origin_server_ts,
          },
        ],
      };
    }
    default:
      return { kind: 'ignored', reason: `event type ${ev.type}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Outbound: port actions → Matrix event contents
// ---------------------------------------------------------------------------------------------

export interface OutboundEvent {
  readonly type: 'm.room.message' | 'm.reaction';
  readonly content: Record<string, unknown>;
}

const MSGTYPE: Record<MessageBody['kind'], string> = { text: 'm.text', notice: 'm.notice', emote: 'm.emote' };

function mediaMsgtype(contentType: string): string {
  if (/^image\//i.test(contentType)) return 'm.image';
  if (/^video\//i.test(contentType)) return 'm.video';
  if (/^audio\//i.test(contentType)) return 'm.audio';
  return 'm.file';
}

/** The inner content of a message (what an edit puts in m.new_content). */
export function messageContentFor(body: MessageBody, ctx: MapperContext): Record<string, unknown> {
  const attachments = body.attachments ?? [];
  const mentionIds = new Set<string>();
  for (const m of body.mentions ?? []) {
    const id = typeof m === 'string' ? (ctx.mentions.mxidOf(m) ?? ctx.ids.ghostUserId(m)) : m.userId;
    if (id !== undefined) mentionIds.add(id);
  }
  // One attachment already in this homeserver's media repository is posted as media, as is.
  const only = attachments.length === 1 ? attachments[0]! : undefined;
  const mxc = only ? mxcOfDownloadUrl(ctx.homeserverUrl, only.url) : undefined;
  if (only && mxc !== undefined) {
    const filename = only.filename ?? 'file';
    const caption = body.text.trim().length ? body.text : only.description;
    return {
      msgtype: mediaMsgtype(only.contentType),
      body: caption ?? filename,
      ...(caption !== undefined ? { filename } : {}),
      url: mxc,
      info: { mimetype: only.contentType, ...(only.size !== undefined ? { size: only.size } : {}) },
      'm.mentions': { user_ids: [...mentionIds] },
    };
  }
  // Other attachments are linked, never fetched by the bridge (no SSRF through it).
  let markdown = body.markdown;
  let text = body.text;
  for (const a of attachments) {
    const name = a.filename ?? a.description ?? a.url;
    text += `${text.length ? '\n' : ''}${name}: ${a.url}`;
    markdown = `${markdown ?? escapeForLink(body.text)}${markdown || body.text ? '\n\n' : ''}[${escapeForLink(name)}](${a.url.replace(/[\s()<>]/g, encodeURIComponent)})`;
  }
  const content: Record<string, unknown> = { msgtype: MSGTYPE[body.kind], body: text };
  if (markdown !== undefined) {
    const r = markdownToHtml(markdown, ctx.mentions);
    content['body'] = r.plain;
    if (r.html !== undefined) {
      content['format'] = 'org.matrix.custom.html';
      content['formatted_body'] = r.html;
    }
    for (const id of r.mentionedMxids) mentionIds.add(id);
  }
  // Intentional mentions (spec v1.7): an empty list stops clients from guessing from the body.
  content['m.mentions'] = { user_ids: [...mentionIds] };
  return content;
}

function escapeForLink(s: string): string {
  return s.replace(/[\\`*_[\]<]/g, (c) => (c === '<' ? '&lt;' : `\\${c}`));
}

/** The Matrix event for a post/edit/react action (delete and unreact are redactions, read a receipt). */
export function outboundEventFor(action: MessageAction, ctx: MapperContext): OutboundEvent | undefined {
  switch (action.type) {
    case 'post': {
      const content = messageContentFor(action.body, ctx);
      // Rich reply without a fallback (spec v1.13 removed fallbacks): nothing to leak or strip.
      if (action.inReplyTo) {
        content['m.relates_to'] = { 'm.in_reply_to': { event_id: action.inReplyTo.platformEventId } };
      }
      return { type: 'm.room.message', content };
    }
    case 'edit': {
      const inner = messageContentFor(action.body, ctx);
      const content: Record<string, unknown> = {
        ...inner,
        body: `* ${String(inner['body'])}`,
        'm.new_content': inner,
        'm.relates_to': { rel_type: 'm.replace', event_id: action.target.platformEventId },
      };
      if (typeof inner['formatted_body'] === 'string') content['formatted_body'] = `* ${inner['formatted_body']}`;
      return { type: 'm.room.message', content };
    }
    case 'react':
      return {
        type: 'm.reaction',
        content: {
          'm.relates_to': { rel_type: 'm.annotation', event_id: action.target.platformEventId, key: action.key },
        },
      };
    case 'delete':
    case 'unreact':
    case 'read':
      return undefined;
  }
}

/** The user ID of a port user: a ghost's, or the native user's own. */
export function mxidOf(ctx: MapperContext, user: LegacyUserRef | RemoteUser): string | undefined {
  return 'userUri' in user ? ctx.ids.ghostUserId(user.userUri) : user.userId;
}
