/**
 * Matrix events ↔ the port's platform-neutral shapes (pure; the bridge does the I/O).
 * Matrix references: client-server API v1.15, "m.room.message msgtypes", "Rich replies",
 * "Event replacements", "Reactions" (m.annotation), "Redactions", "User and room mentions",
 * "m.room.power_levels"; MIMI: draft-ietf-mimi-content-08 §5.
 */
import type { Attachment, InboundEvent, MessageAction, MessageBody } from '../../src/ports';
import type { EchoKeyedInboundEvent } from '../kit/echo-keys';
import { htmlToMarkdown } from './html-markdown';
import {
  type CommandName,
  isRecord,
  legacyUser,
  MalformedEventError,
  type MappedEvent,
  type MapperContext,
  type MatrixEvent,
  roomRef,
  str,
  userRef,
} from './matrix-event.core';
import { mapMembership } from './matrix-membership.mapper';
import { mediaDownloadUrl } from './matrix-ids';
import { mapPowerLevels } from './matrix-power-levels';

// The mapper's API is split by job across the files beside it; importers keep using this module.
export {
  asMatrixEvent,
  type CommandName,
  MalformedEventError,
  type MappedEvent,
  type MapperContext,
  type MatrixEvent,
  type PowerLevelsContent,
  roomRef,
  userRef,
} from './matrix-event.core';
export { mxidOf, messageContentFor, type OutboundEvent, outboundEventFor } from './matrix-outbound.mapper';
export {
  creatorsOf,
  mapPowerLevels,
  powerLevelForRole,
  powerLevelOf,
  roleForPowerLevel,
  sendLevelOf,
} from './matrix-power-levels';

const COMMAND_RE = /^!mimi(?:[ \t]+(\S+)(?:[ \t]+(\S+))?)?[ \t]*$/;
const COMMANDS: ReadonlySet<string> = new Set(['link', 'unlink', 'status', 'invite', 'help']);

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
