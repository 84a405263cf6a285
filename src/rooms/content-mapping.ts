/**
 * Legacy message actions ↔ MIMI content (content-08 §5; MIMI-NOTES §5.1 E.16). Pure apart from
 * the reference resolvers the callers pass in (legacy event ID ↔ message ID lookups).
 *
 * - post → original (§5.1) or reply (§5.2, `inReplyTo`);
 * - edit → `replaces` the edited message + a new body (§5.5);
 * - delete → `replaces` + NullPart with disposition render (§5.6);
 * - react → disposition reaction + `inReplyTo` (§5.3);
 * - unreact → `replaces` the reaction + NullPart with disposition reaction (§5.7);
 * - read → a message status report (draft-mahy-mimi-message-status-01) marking the message read.
 */
import {
  Cardinality,
  Disposition,
  ExtensionKeys,
  MEDIA_TYPE_MARKDOWN_GFM_MIMI,
  MEDIA_TYPE_TEXT_PLAIN,
  type MessageEnvelope,
  type MimiContent,
  type NestedPart,
  PartSemantics,
  type ExternalPart,
  buildAttachments,
  type AttachmentInit,
  buildDelete,
  buildEdit,
  buildMessageStatus,
  buildReaction,
  buildReply,
  buildTextMessage,
  buildUnlike,
  cborJson,
  fromHex,
  getExternalMessageId,
  getRoomUri,
  getSenderUri,
  isMessageStatus,
  MESSAGE_STATUS_READ,
  messageStatusOf,
  senderTimestampFromMillis,
  type SenderProfile,
  getSenderProfile,
  senderProfileExtensions,
  toHex,
} from '../mimi/content';
import type { Attachment, MessageAction, MessageBody } from '../ports';

/** What a message does, as stored in `room_event.kind` and shown by the provisioning API. */
export type ContentKind = 'text' | 'reply' | 'edit' | 'delete' | 'reaction' | 'unlike' | 'status';

export interface ContentContext {
  readonly senderUri: string;
  readonly roomUri: string;
  /** The legacy event's ID (more-extensions-00 §4 externalMessageId), scoped to our provider domain. */
  readonly platformEventId?: string;
  readonly scopeDomain?: string;
  /** Legacy origin time (ms), as more-extensions-00 §3 senderTimestamp. */
  readonly timestamp?: number;
  /** The sender's display name and avatar, as the `senderProfile` extension (docs/EXTENSIONS.md). */
  readonly senderProfile?: SenderProfile;
  /** The MIMI message ID (hex) of a legacy event of the same room, if known. */
  readonly messageIdOf: (platformEventId: string) => Promise<string | undefined>;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * The MIMI content for a legacy action, or `undefined` when the action refers to a message we do
 * not know (an edit, delete or reaction of something sent before the room was linked).
 */
export async function contentForAction(action: MessageAction, ctx: ContentContext): Promise<MimiContent | undefined> {
  const env: MessageEnvelope = {
    senderUri: ctx.senderUri,
    roomUri: ctx.roomUri,
    ...(ctx.platformEventId !== undefined && ctx.scopeDomain !== undefined
      ? {
          externalMessageId: {
            id: utf8.encode(ctx.platformEventId),
            scope: { kind: 'domain' as const, domain: ctx.scopeDomain },
          },
        }
      : {}),
    ...(ctx.timestamp !== undefined ? { senderTimestamp: senderTimestampFromMillis(ctx.timestamp) } : {}),
    extraExtensions: senderProfileExtensions(ctx.senderProfile),
  };
  const ref = async (platformEventId: string): Promise<Uint8Array | undefined> => {
    const hex = await ctx.messageIdOf(platformEventId);
    return hex === undefined ? undefined : fromHex(hex);
  };
  switch (action.type) {
    case 'post': {
      const replyTo = action.inReplyTo === undefined ? undefined : await ref(action.inReplyTo.platformEventId);
      const attachments = action.body.attachments ?? [];
      if (attachments.length > 0) return attachmentMessage(env, action.body, attachments, { inReplyTo: replyTo });
      // A reply to a message we do not know is still worth sending, as a plain message.
      return replyTo === undefined
        ? buildTextMessage({ ...env, ...textBody(action.body) })
        : buildReply({ ...env, ...textBody(action.body), inReplyTo: replyTo });
    }
    case 'edit': {
      const target = await ref(action.target.platformEventId);
      if (target === undefined) return undefined;
      // The new body replaces the old one whole: an edited caption keeps its files.
      const attachments = action.body.attachments ?? [];
      return attachments.length > 0
        ? attachmentMessage(env, action.body, attachments, { replaces: target })
        : buildEdit({ ...env, ...textBody(action.body), replaces: target });
    }
    case 'delete': {
      const target = await ref(action.target.platformEventId);
      return target === undefined ? undefined : buildDelete({ ...env, replaces: target });
    }
    case 'react': {
      const target = await ref(action.target.platformEventId);
      return target === undefined ? undefined : buildReaction({ ...env, inReplyTo: target, reaction: action.key });
    }
    case 'unreact': {
      const target = await ref(action.reaction.platformEventId);
      return target === undefined ? undefined : buildUnlike({ ...env, replaces: target });
    }
    case 'read': {
      const target = await ref(action.target.platformEventId);
      return target === undefined
        ? undefined
        : buildMessageStatus({ ...env, entries: [{ messageId: target, status: MESSAGE_STATUS_READ }] });
    }
  }
}

/**
 * Files and images as MIMI ExternalParts (content-08 §4.4): the URLs the bridge made fetchable,
 * never the bytes. One attachment is a bare ExternalPart; several are a processAll MultiPart of
 * one ExternalPart each, in order (an XMPP stanza may carry several XEP-0066/XEP-0447 files).
 * Captioned (the text first, in the same MultiPart) when the text says more than the file names,
 * as Matrix's `body` of an m.image usually is just the name.
 */
function attachmentMessage(
  env: MessageEnvelope,
  body: MessageBody,
  attachments: readonly Attachment[],
  refs: { readonly inReplyTo?: Uint8Array | undefined; readonly replaces?: Uint8Array },
): MimiContent {
  return buildAttachments({
    ...env,
    attachments: attachments.map(attachmentInit),
    ...(isCaption(body.text, attachments) ? { caption: textBody(body) } : {}),
    ...(refs.inReplyTo !== undefined ? { inReplyTo: refs.inReplyTo } : {}),
    ...(refs.replaces !== undefined ? { replaces: refs.replaces } : {}),
  });
}

/** Whether `text` says more than the names of the files: not blank, and not just their names, one a line. */
function isCaption(text: string, attachments: readonly Attachment[]): boolean {
  if (text.trim() === '') return false;
  const names = new Set(attachments.flatMap((a) => (a.filename !== undefined ? [a.filename] : [])));
  return !text.split('\n').every((line) => names.has(line));
}

function attachmentInit(attachment: Attachment): AttachmentInit {
  return {
    contentType: attachment.contentType,
    url: attachment.url,
    ...(attachment.size !== undefined ? { size: attachment.size } : {}),
    ...(attachment.filename !== undefined ? { filename: attachment.filename } : {}),
    ...(attachment.description !== undefined ? { description: attachment.description } : {}),
    // Named Information hash algorithm 1 = sha-256.
    ...(attachment.sha256 !== undefined ? { hashAlg: 1, contentHash: attachment.sha256 } : {}),
  };
}

/** The ExternalParts of a body, in order (a single one, or those inside a MultiPart). */
function externalParts(part: NestedPart): ExternalPart[] {
  if (part.cardinality === Cardinality.External) return [part];
  if (part.cardinality === Cardinality.Multi) return part.parts.flatMap(externalParts);
  return [];
}

function toAttachment(part: ExternalPart): Attachment {
  return {
    url: part.url,
    contentType: part.contentType,
    ...(part.size > 0n ? { size: Number(part.size) } : {}),
    ...(part.filename !== '' ? { filename: part.filename } : {}),
    ...(part.description !== '' ? { description: part.description } : {}),
    ...(part.hashAlg === 1 && part.contentHash.length === 32 ? { sha256: part.contentHash } : {}),
  };
}

/**
 * Emotes in MIMI (docs/EXTENSIONS.md "Emotes"): content-08 has no emote, so an emote is a text body
 * that starts with `/me ` (XEP-0245's convention, readable as it is by a peer that does not know it).
 */
const EMOTE_PREFIX = '/me ';

function textBody(body: MessageBody): { text: string; contentType: string } {
  const prefix = body.kind === 'emote' ? EMOTE_PREFIX : '';
  return body.markdown !== undefined
    ? { text: prefix + body.markdown, contentType: MEDIA_TYPE_MARKDOWN_GFM_MIMI }
    : { text: prefix + body.text, contentType: MEDIA_TYPE_TEXT_PLAIN };
}

export function contentKind(content: MimiContent): ContentKind {
  if (isMessageStatus(content)) return 'status';
  const part = content.nestedPart;
  if (part.cardinality === Cardinality.NullPart) {
    return part.disposition === Disposition.Reaction ? 'unlike' : 'delete';
  }
  if (part.disposition === Disposition.Reaction && content.inReplyTo !== null) return 'reaction';
  if (content.replaces !== null) return 'edit';
  if (content.inReplyTo !== null) return 'reply';
  return 'text';
}

/** Preference among chooseOne alternatives, lowest first: Markdown, plain text, other parts, HTML. */
function alternativeRank(part: NestedPart): number {
  if (part.cardinality !== Cardinality.Single) return 2;
  const type = part.contentType.toLowerCase();
  if (type.startsWith('text/markdown')) return 0;
  if (type.startsWith('text/plain')) return 1;
  return type.startsWith('text/html') ? 3 : 2;
}

/** The first displayable text of a body: a text/* single part, or the first one inside a MultiPart. */
function contentText(part: NestedPart): { text: string; contentType: string } | undefined {
  switch (part.cardinality) {
    case Cardinality.Single: {
      if (!/^text\//i.test(part.contentType)) return undefined;
      try {
        return { text: utf8Strict.decode(part.content), contentType: part.contentType };
      } catch {
        return undefined;
      }
    }
    case Cardinality.Multi: {
      // Alternatives (chooseOne): the one we render best; no sink formats HTML, so it comes last.
      const parts =
        part.partSemantics === PartSemantics.ChooseOne
          ? [...part.parts].sort((a, b) => alternativeRank(a) - alternativeRank(b))
          : part.parts;
      for (const p of parts) {
        const t = contentText(p);
        if (t !== undefined) return t;
      }
      return undefined;
    }
    case Cardinality.External:
      return part.description.length > 0 ? { text: part.description, contentType: MEDIA_TYPE_TEXT_PLAIN } : undefined;
    case Cardinality.NullPart:
      return undefined;
  }
}

function messageBody(content: MimiContent): MessageBody {
  const attachments = externalParts(content.nestedPart).map(toAttachment);
  const withFiles = attachments.length > 0 ? { attachments } : {};
  const t = contentText(content.nestedPart);
  // No caption: a lone file's name is the text (what Matrix shows as an m.file's body); several files speak for themselves.
  if (t === undefined) {
    return { kind: 'text', text: attachments.length === 1 ? (attachments[0]!.filename ?? '') : '', ...withFiles };
  }
  const emote = t.text.startsWith(EMOTE_PREFIX) && t.text.length > EMOTE_PREFIX.length;
  const kind = emote ? 'emote' : 'text';
  const text = emote ? t.text.slice(EMOTE_PREFIX.length) : t.text;
  return t.contentType.toLowerCase().startsWith('text/markdown')
    ? { kind, text, markdown: text, ...withFiles }
    : { kind, text, ...withFiles };
}

/**
 * The legacy action for received MIMI content, given the platform event ID of a referenced
 * message (hex message ID → platform ID), or `undefined` when it refers to an unknown message
 * (nothing sensible can be shown).
 */
export async function actionForContent(
  content: MimiContent,
  platformEventIdOf: (messageIdHex: string) => Promise<string | undefined>,
): Promise<MessageAction | undefined> {
  const ref = async (id: Uint8Array | null): Promise<{ platformEventId: string } | undefined> => {
    if (id === null) return undefined;
    const platformEventId = await platformEventIdOf(toHex(id));
    return platformEventId === undefined ? undefined : { platformEventId };
  };
  switch (contentKind(content)) {
    case 'delete': {
      const target = await ref(content.replaces);
      return target && { type: 'delete', target };
    }
    case 'unlike': {
      const reaction = await ref(content.replaces);
      return reaction && { type: 'unreact', reaction };
    }
    case 'reaction': {
      const target = await ref(content.inReplyTo);
      const key = contentText(content.nestedPart)?.text;
      return target && key !== undefined ? { type: 'react', target, key } : undefined;
    }
    case 'edit': {
      const target = await ref(content.replaces);
      return target && { type: 'edit', target, body: messageBody(content) };
    }
    case 'reply': {
      const inReplyTo = await ref(content.inReplyTo);
      return inReplyTo === undefined
        ? { type: 'post', body: messageBody(content) }
        : { type: 'post', body: messageBody(content), inReplyTo };
    }
    case 'text':
      return { type: 'post', body: messageBody(content) };
    case 'status':
      return readAction(content, platformEventIdOf);
  }
}

/**
 * A status report as a read marker: the last message it marks read that the legacy room knows
 * (platforms keep one read position per user, so one marker says it all); `undefined` when it
 * marks nothing known read, or is malformed.
 */
async function readAction(
  content: MimiContent,
  platformEventIdOf: (messageIdHex: string) => Promise<string | undefined>,
): Promise<MessageAction | undefined> {
  const entries = safely(() => messageStatusOf(content)) ?? [];
  for (const entry of [...entries].reverse()) {
    if (entry.status !== MESSAGE_STATUS_READ) continue;
    const platformEventId = await platformEventIdOf(toHex(entry.messageId));
    if (platformEventId !== undefined) return { type: 'read', target: { platformEventId } };
  }
  return undefined;
}

/** The sender's profile the message carries (docs/EXTENSIONS.md); undefined when absent or malformed. */
export function senderProfileOf(content: MimiContent): SenderProfile | undefined {
  return safely(() => getSenderProfile(content.extensions));
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A JSON-safe view of MIMI content for the provisioning API (bytes as hex). */
export function contentToJson(content: MimiContent): { [k: string]: Json } {
  const text = contentText(content.nestedPart);
  const externalId = safely(() => getExternalMessageId(content.extensions));
  return {
    kind: contentKind(content),
    senderUri: safely(() => getSenderUri(content.extensions)) ?? null,
    roomUri: safely(() => getRoomUri(content.extensions)) ?? null,
    replaces: content.replaces === null ? null : toHex(content.replaces),
    inReplyTo: content.inReplyTo === null ? null : toHex(content.inReplyTo),
    topicId: toHex(content.topicId),
    expires: content.expires === null ? null : { relative: content.expires.relative, time: content.expires.time },
    disposition: content.nestedPart.disposition,
    cardinality: Cardinality[content.nestedPart.cardinality] ?? null,
    partSemantics:
      content.nestedPart.cardinality === Cardinality.Multi
        ? (PartSemantics[content.nestedPart.partSemantics] ?? null)
        : null,
    contentType: text?.contentType ?? null,
    text: text?.text ?? null,
    externalMessageId:
      externalId === undefined
        ? null
        : { id: Buffer.from(externalId.id).toString('utf8'), scope: { ...externalId.scope } },
    extensions: [...content.extensions]
      .filter(([k]) => k !== ExtensionKeys.SenderUri && k !== ExtensionKeys.RoomUri)
      .map(([k, v]) => ({ key: k, value: cborJson(v) })),
  };
}

function safely<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
