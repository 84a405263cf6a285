import type { LegacyUserRef, MessageAction, MessageBody, RemoteUser } from '../../src/ports';
import { markdownToHtml } from './html-markdown';
import type { MapperContext } from './matrix-event.core';
import { mxcOfDownloadUrl } from './matrix-ids';

/** Outbound: port actions → Matrix event contents ("m.room.message msgtypes", "Event replacements", "Reactions"). */

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
