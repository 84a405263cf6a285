/**
 * Builders for the common message shapes of draft-ietf-mimi-content-08 §5, for the bridges.
 * Every builder returns a model that passes `assertWellFormedMimiContent`; encode it with
 * `encodeMimiContentWithId(msg, senderUri, roomUri)` to get the wire bytes and the message ID.
 */
import { randomBytes } from 'node:crypto';
import { ValidationError } from '../../common/errors';
import { CborValue } from './cbor';
import {
  checkSubject,
  ExtensionKeys,
  ExternalMessageId,
  externalMessageIdToCbor,
  SenderTimestamp,
  senderTimestampToCbor,
} from './content-extensions';
import {
  assertWellFormedMimiContent,
  Cardinality,
  Disposition,
  Expiration,
  ExtensionKey,
  ExternalPart,
  MessageId,
  MimiContent,
  NestedPart,
  PartSemantics,
  SALT_LENGTH,
  SinglePart,
} from './mimi-content';
import { encodeMessageStatusReport, MEDIA_TYPE_MESSAGE_STATUS, type PerMessageStatus } from './message-status';

/** §7.1: media types every MIMI receiver must accept. */
export const MEDIA_TYPE_MARKDOWN_GFM_MIMI = 'text/markdown;variant=GFM-MIMI';
export const MEDIA_TYPE_TEXT_PLAIN = 'text/plain;charset=utf-8';
/** IANA AEAD registry: AES-128-GCM (§4.5: MUST be implemented). */
export const AEAD_AES_128_GCM = 1;
/** IANA Named Information hash algorithm: sha-256. */
export const HASH_ALG_SHA256 = 1;

/** Fields every builder takes: who sends where, and the optional message-level fields. */
export interface MessageEnvelope {
  /** Written as extension 1 (senderUri); also an input of the message ID. */
  readonly senderUri: string;
  /** Written as extension 2 (roomUri); also an input of the message ID. */
  readonly roomUri: string;
  /**
   * 16 bytes. §4.1: MUST be cryptographically random; §9.2 suggests deriving it from an MLS exporter secret.
   * Default: 16 bytes from the OS CSPRNG.
   */
  readonly salt?: Uint8Array;
  /** §4.1 topicId (thread); default empty (no topic). */
  readonly topicId?: Uint8Array;
  readonly expires?: Expiration | null;
  /** more-extensions-00 §4: the legacy (Matrix/XMPP) ID of this message. */
  readonly externalMessageId?: ExternalMessageId;
  /** more-extensions-00 §3: the legacy origin time. */
  readonly senderTimestamp?: SenderTimestamp;
  /** more-extensions-00 §5. */
  readonly subject?: string;
  /** Further extension entries (private-use keys etc.). Must not repeat a key set above. */
  readonly extraExtensions?: Iterable<readonly [ExtensionKey, CborValue]>;
}

/** A text body. */
export interface TextBody {
  readonly text: string;
  /** Default `text/markdown;variant=GFM-MIMI` (§7.1). */
  readonly contentType?: string;
  /** "" or comma-separated RFC 5646 tags; default "". */
  readonly language?: string;
}

/** What an attachment needs; everything but contentType and url has the §4.5 "none/unknown" default. */
export interface AttachmentInit {
  readonly contentType: string;
  readonly url: string;
  readonly expires?: number;
  readonly size?: bigint | number;
  readonly encAlg?: number;
  readonly key?: Uint8Array;
  readonly nonce?: Uint8Array;
  readonly aad?: Uint8Array;
  readonly hashAlg?: number;
  readonly contentHash?: Uint8Array;
  readonly description?: string;
  readonly filename?: string;
  /** Default attachment (6); use inline (4) for images meant to be shown in the timeline. */
  readonly disposition?: number;
  readonly language?: string;
}

function extensions(env: MessageEnvelope): Map<ExtensionKey, CborValue> {
  const ext = new Map<ExtensionKey, CborValue>([
    [ExtensionKeys.SenderUri, env.senderUri],
    [ExtensionKeys.RoomUri, env.roomUri],
  ]);
  if (env.senderTimestamp) ext.set(ExtensionKeys.SenderTimestamp, senderTimestampToCbor(env.senderTimestamp));
  if (env.externalMessageId) {
    ext.set(ExtensionKeys.ExternalMessageId, externalMessageIdToCbor(env.externalMessageId));
  }
  if (env.subject !== undefined) ext.set(ExtensionKeys.Subject, checkSubject(env.subject));
  for (const [k, v] of env.extraExtensions ?? []) {
    if (ext.has(k)) throw new ValidationError(`§4.3: extension key ${String(k)} given twice`);
    ext.set(k, v);
  }
  return ext;
}

function newSalt(): Uint8Array {
  return new Uint8Array(randomBytes(SALT_LENGTH));
}

function message(
  env: MessageEnvelope,
  fields: { replaces?: MessageId | null; inReplyTo?: MessageId | null; nestedPart: NestedPart },
): MimiContent {
  const msg: MimiContent = {
    salt: env.salt ?? newSalt(),
    replaces: fields.replaces ?? null,
    topicId: env.topicId ?? new Uint8Array(0),
    expires: env.expires ?? null,
    inReplyTo: fields.inReplyTo ?? null,
    extensions: extensions(env),
    nestedPart: fields.nestedPart,
  };
  assertWellFormedMimiContent(msg);
  return msg;
}

/** A SinglePart holding UTF-8 text. */
function textPart(body: TextBody, disposition: number = Disposition.Render): SinglePart {
  return {
    disposition,
    language: body.language ?? '',
    cardinality: Cardinality.Single,
    contentType: body.contentType ?? MEDIA_TYPE_MARKDOWN_GFM_MIMI,
    content: new Uint8Array(Buffer.from(body.text, 'utf8')),
  };
}

/** An ExternalPart (§4.5). */
function externalPart(a: AttachmentInit): ExternalPart {
  return {
    disposition: a.disposition ?? Disposition.Attachment,
    language: a.language ?? '',
    cardinality: Cardinality.External,
    contentType: a.contentType,
    url: a.url,
    expires: a.expires ?? 0,
    size: BigInt(a.size ?? 0),
    encAlg: a.encAlg ?? 0,
    key: a.key ?? new Uint8Array(0),
    nonce: a.nonce ?? new Uint8Array(0),
    aad: a.aad ?? new Uint8Array(0),
    hashAlg: a.hashAlg ?? 0,
    contentHash: a.contentHash ?? new Uint8Array(0),
    description: a.description ?? '',
    filename: a.filename ?? '',
  };
}

/** §5.1 original message: a text body, no references. */
export function buildTextMessage(args: MessageEnvelope & TextBody): MimiContent {
  return message(args, { nestedPart: textPart(args) });
}

/** §5.2 reply: `inReplyTo` = the (current version of the) message replied to. */
export function buildReply(args: MessageEnvelope & TextBody & { readonly inReplyTo: MessageId }): MimiContent {
  return message(args, { inReplyTo: args.inReplyTo, nestedPart: textPart(args) });
}

/**
 * §5.5 edit: `replaces` = the ID of the FIRST version of the edited message (not of an earlier edit);
 * `inReplyTo` keeps the original's reply target when it had one.
 */
export function buildEdit(
  args: MessageEnvelope & TextBody & { readonly replaces: MessageId; readonly inReplyTo?: MessageId | null },
): MimiContent {
  return message(args, { replaces: args.replaces, inReplyTo: args.inReplyTo, nestedPart: textPart(args) });
}

/** §5.6 delete: `replaces` = the first version's ID, body = NullPart with disposition render. */
export function buildDelete(
  args: MessageEnvelope & { readonly replaces: MessageId; readonly inReplyTo?: MessageId | null },
): MimiContent {
  return message(args, {
    replaces: args.replaces,
    inReplyTo: args.inReplyTo,
    nestedPart: { disposition: Disposition.Render, language: '', cardinality: Cardinality.NullPart },
  });
}

/**
 * §5.3 reaction: `inReplyTo` = the message reacted to, body disposition reaction (2), by default a
 * `text/plain;charset=utf-8` part with the emoji.
 */
export function buildReaction(
  args: MessageEnvelope & { readonly inReplyTo: MessageId; readonly reaction: string; readonly contentType?: string },
): MimiContent {
  if (args.reaction.length === 0) throw new ValidationError('§5.3: a reaction must not be empty');
  return message(args, {
    inReplyTo: args.inReplyTo,
    nestedPart: textPart(
      { text: args.reaction, contentType: args.contentType ?? MEDIA_TYPE_TEXT_PLAIN },
      Disposition.Reaction,
    ),
  });
}

/**
 * §B.2 several reactions in one message: a processAll MultiPart with one reaction part each ("MUST NOT be
 * represented as a single text part").
 */
export function buildReactions(
  args: MessageEnvelope & { readonly inReplyTo: MessageId; readonly reactions: readonly string[] },
): MimiContent {
  if (args.reactions.length < 2) throw new ValidationError('§B.2: use buildReaction for a single reaction');
  return message(args, {
    inReplyTo: args.inReplyTo,
    nestedPart: {
      disposition: Disposition.Reaction,
      language: '',
      cardinality: Cardinality.Multi,
      partSemantics: PartSemantics.ProcessAll,
      parts: args.reactions.map((r) => textPart({ text: r, contentType: MEDIA_TYPE_TEXT_PLAIN }, Disposition.Reaction)),
    },
  });
}

/** §5.7 unlike: `replaces` = the reaction message's ID, body = NullPart with disposition reaction (2). */
export function buildUnlike(
  args: MessageEnvelope & { readonly replaces: MessageId; readonly inReplyTo?: MessageId | null },
): MimiContent {
  return message(args, {
    replaces: args.replaces,
    inReplyTo: args.inReplyTo,
    nestedPart: { disposition: Disposition.Reaction, language: '', cardinality: Cardinality.NullPart },
  });
}

/**
 * §5.9 attachment: an ExternalPart. With a caption, the body is a processAll MultiPart
 * [caption text, attachment] (§4.4 processAll ≈ multipart/mixed).
 */
export function buildAttachment(
  args: MessageEnvelope & {
    readonly attachment: AttachmentInit;
    readonly caption?: TextBody;
    readonly inReplyTo?: MessageId | null;
  },
): MimiContent {
  const { attachment, ...rest } = args;
  return buildAttachments({ ...rest, attachments: [attachment] });
}

/**
 * §5.9 with several files: one message whose body is a processAll MultiPart (§4.4: "the receiver
 * should process as many of the nested parts as possible") of the caption, when there is one,
 * and one ExternalPart per attachment, in order. A single attachment is built as `buildAttachment`
 * builds it (a bare ExternalPart without a caption). With `replaces`, an edit (§5.5) whose new body
 * keeps its files.
 */
export function buildAttachments(
  args: MessageEnvelope & {
    readonly attachments: readonly AttachmentInit[];
    readonly caption?: TextBody;
    readonly inReplyTo?: MessageId | null;
    readonly replaces?: MessageId | null;
  },
): MimiContent {
  if (args.attachments.length === 0) throw new ValidationError('§5.9: an attachment message needs an attachment');
  const parts: NestedPart[] = [
    ...(args.caption ? [textPart(args.caption)] : []),
    ...args.attachments.map(externalPart),
  ];
  const nestedPart: NestedPart =
    parts.length === 1
      ? parts[0]!
      : {
          disposition: Disposition.Render,
          language: '',
          cardinality: Cardinality.Multi,
          partSemantics: PartSemantics.ProcessAll,
          parts,
        };
  return message(args, { replaces: args.replaces, inReplyTo: args.inReplyTo, nestedPart });
}

/**
 * A message status report (draft-mahy-mimi-message-status-01): a SinglePart of media type
 * `application/mimi-message-status`, disposition unspecified (nothing to render), holding the
 * report's CBOR. It replaces nothing and replies to nothing: the report names the messages itself.
 */
export function buildMessageStatus(
  args: MessageEnvelope & { readonly entries: readonly PerMessageStatus[] },
): MimiContent {
  return message(args, {
    nestedPart: {
      disposition: Disposition.Unspecified,
      language: '',
      cardinality: Cardinality.Single,
      contentType: MEDIA_TYPE_MESSAGE_STATUS,
      content: encodeMessageStatusReport(args.entries),
    },
  });
}
