/**
 * Message content between XMPP groupchat stanzas and the port's MessageAction / MessageBody.
 * Pure: lookups of earlier messages and the attachment host policy come in as arguments.
 *
 *   XMPP                                     port
 *   <body/>                                  post { body.text }       ('/me ' prefix ↔ kind 'emote')
 *   XEP-0393 styling in <body/>              body.markdown            (styling.ts)
 *   XEP-0308 <replace id=msg-id/>            edit { target }
 *   XEP-0424 <retract id=stanza-id/>         delete { target }
 *   XEP-0461 <reply id=stanza-id/>           post { inReplyTo }       (XEP-0428 fallback quote removed)
 *   XEP-0066 <x:oob/>, XEP-0447 <file-sharing/>  body.attachments      (https URLs on allowed hosts only)
 *   XEP-0444 <reactions id=stanza-id/>       react / unreact          (diffed by the bridge, reactions.ts)
 *   XEP-0372 mention / `nick: `              Markdown link to the user's URI (mentions.ts)
 */
import type { Attachment, MessageAction, MessageBody } from '../../../src/ports';
import { NS } from '../protocol/namespaces';
import { fallbackRanges, type FileRef, type ParsedGroupchat, stripFallback } from '../protocol/stanzas';
import { findMentions, markdownWithMentions, type MentionLookup, shiftMentions } from './mentions';
import { markdownToStyling, plainToMarkdown, stylingToMarkdown } from './styling';

/** What the bridge needs to know about an earlier message to reference it. */
export interface MessageRef {
  /** The MUC's stanza-id: the platformEventId. */
  readonly stanzaId: string;
  /** The stanza `id` attribute (XEP-0308 corrections reference it). */
  readonly messageId?: string;
  /** Occupant nick of the author at the time (XEP-0461 `to`). */
  readonly nick?: string;
  /** Plain text, for a reply's fallback quote. */
  readonly text?: string;
}

export type InboundContent =
  | { readonly kind: 'action'; readonly action: MessageAction }
  | { readonly kind: 'reactions'; readonly target: string; readonly emojis: readonly string[] }
  | { readonly kind: 'subject'; readonly subject: string }
  | { readonly kind: 'none' };

export interface InboundLookups {
  /** platformEventId of the first message seen whose stanza `id` (or origin-id) is `id` (XEP-0333). */
  byMessageId(id: string): string;
  /**
   * platformEventId of the sender's own message whose stanza `id` (or origin-id) is `id`: what a
   * correction (XEP-0308) or a 0.x retraction (XEP-0424) names. Another occupant's message that
   * carries the same id (copied) is never the answer.
   */
  byOwnMessageId(id: string): string;
  /** platformEventId of the message whose MUC stanza-id is `id` (XEP-0424, XEP-0444, XEP-0461). */
  byStanzaId(id: string): string;
  isAllowedUrl(url: string): boolean;
  /** Who the nicks and JIDs of mentions are (none are read without it). */
  readonly mentions?: MentionLookup;
}

const EMOTE_PREFIX = '/me ';

/** Media types by file extension, for attachments that carry no XEP-0446 media-type. */
const MEDIA_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  m4a: 'audio/mp4',
  pdf: 'application/pdf',
  txt: 'text/plain',
};

function filenameOf(url: string): string | undefined {
  try {
    const last = new URL(url).pathname.split('/').pop();
    return last ? decodeURIComponent(last) : undefined;
  } catch {
    return undefined;
  }
}

function guessMediaType(name: string | undefined): string {
  const ext = name?.split('.').pop()?.toLowerCase();
  return (ext && MEDIA_TYPES[ext]) || 'application/octet-stream';
}

/**
 * True when `url` is https and its host is one of `hosts` (exact, case-insensitive) or a
 * subdomain of an entry written `.example.org`. The gateway never fetches it either way.
 */
export function isAllowedAttachmentUrl(url: string, hosts: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'https:' || parsed.username || parsed.password) return false;
  const host = parsed.hostname.toLowerCase();
  return hosts.some((h) => {
    const allowed = h.toLowerCase();
    return allowed.startsWith('.') ? host.endsWith(allowed) : host === allowed;
  });
}

function fileToAttachment(f: FileRef): Attachment {
  const filename = f.name ?? filenameOf(f.url);
  return {
    url: f.url,
    contentType: f.mediaType ?? guessMediaType(filename),
    size: f.size,
    filename,
    description: f.description,
    sha256: f.sha256,
  };
}

function attachmentToFile(a: Attachment): FileRef {
  return {
    url: a.url,
    mediaType: a.contentType,
    name: a.filename,
    size: a.size,
    description: a.description,
    sha256: a.sha256,
  };
}

/**
 * `text` without the lines `drop` matches (each with its line break), and the code-point ranges
 * removed, so that offsets into `text` (XEP-0372 mentions) can be moved to the result.
 */
export function dropLines(
  text: string,
  drop: (line: string) => boolean,
): { text: string; removed: [number, number][] } {
  const lines = text.split('\n');
  const kept: string[] = [];
  const removed: [number, number][] = [];
  let at = 0;
  lines.forEach((line, i) => {
    const length = [...line].length;
    const last = i === lines.length - 1;
    if (drop(line)) {
      // The line and the break after it; the last line takes the break before it instead.
      if (!last) removed.push([at, at + length + 1]);
      else if (i > 0) removed.push([at - 1, at + length]);
      else removed.push([at, at + length]);
    } else {
      kept.push(line);
    }
    at += length + 1;
  });
  return { text: kept.join('\n'), removed };
}

/** The message body a groupchat stanza carries, with reply fallbacks removed and mentions linked. */
function bodyOf(p: ParsedGroupchat, lookups: InboundLookups): MessageBody {
  const full = p.body ?? '';
  const attachments = p.files.filter((f) => lookups.isAllowedUrl(f.url)).map(fileToAttachment);
  // A client repeats an OOB URL in the body for clients without XEP-0066: that line is the file, not text.
  const urls = new Set(attachments.map((a) => a.url));
  const { text: raw, removed } = dropLines(stripFallback(full, p.fallbacks, [NS.REPLY]), (line) =>
    urls.has(line.trim()),
  );
  const emote = raw.startsWith(EMOTE_PREFIX);
  const text = emote ? raw.slice(EMOTE_PREFIX.length) : raw;
  const found = lookups.mentions ? findMentions(full, p.references, p.room, lookups.mentions, p.nick) : [];
  // Offsets into `text`: the fallback quote, the attachment lines, then the `/me ` prefix, are gone from it.
  const inText = shiftMentions(
    shiftMentions(shiftMentions(found, fallbackRanges(p.fallbacks, [NS.REPLY])), removed),
    emote ? [[0, EMOTE_PREFIX.length]] : [],
  );
  const markdown = markdownWithMentions(text, inText, stylingToMarkdown, plainToMarkdown);
  return {
    kind: emote ? 'emote' : 'text',
    text,
    ...(markdown !== undefined ? { markdown } : {}),
    ...(attachments.length > 0 ? { attachments } : {}),
  };
}

/** What a parsed groupchat message means for the port. */
export function mapInbound(p: ParsedGroupchat, lookups: InboundLookups): InboundContent {
  if (p.retract !== undefined) {
    // XEP-0424 ≥0.4 references the MUC stanza-id in groupchat; the 0.x fastening form an origin-id.
    const target = p.retract.legacy ? lookups.byOwnMessageId(p.retract.id) : lookups.byStanzaId(p.retract.id);
    return { kind: 'action', action: { type: 'delete', target: { platformEventId: target } } };
  }
  if (p.reactions !== undefined) {
    return { kind: 'reactions', target: lookups.byStanzaId(p.reactions.id), emojis: p.reactions.emojis };
  }
  if (p.body === undefined) {
    if (p.displayed !== undefined) {
      // XEP-0333: read up to there. A MUC marker names the stanza-id; map a client's message id to it.
      return {
        kind: 'action',
        action: { type: 'read', target: { platformEventId: lookups.byMessageId(p.displayed) } },
      };
    }
    if (p.subject !== undefined) return { kind: 'subject', subject: p.subject };
    return { kind: 'none' };
  }
  const body = bodyOf(p, lookups);
  if (p.replaceId !== undefined) {
    return {
      kind: 'action',
      action: { type: 'edit', target: { platformEventId: lookups.byOwnMessageId(p.replaceId) }, body },
    };
  }
  return {
    kind: 'action',
    action: {
      type: 'post',
      body,
      ...(p.reply ? { inReplyTo: { platformEventId: lookups.byStanzaId(p.reply.id) } } : {}),
    },
  };
}

/**
 * Text of a MessageBody on XMPP: Markdown as XEP-0393 styling (styling.ts); emotes as '/me …';
 * in relay mode prefixed with the author's name.
 */
export function outboundText(body: MessageBody, relayAuthor?: string): string {
  const text = body.markdown !== undefined ? markdownToStyling(body.markdown) : body.text;
  if (relayAuthor === undefined) return body.kind === 'emote' ? `${EMOTE_PREFIX}${text}` : text;
  if (body.kind === 'emote') return `* ${relayAuthor} ${text}`;
  return `${relayAuthor}: ${text}`;
}

/** Remove the relay prefix `outboundText` added, when present. */
export function stripRelayPrefix(text: string, relayAuthor: string): MessageBody {
  if (text.startsWith(`${relayAuthor}: `)) return { kind: 'text', text: text.slice(relayAuthor.length + 2) };
  if (text.startsWith(`* ${relayAuthor} `)) return { kind: 'emote', text: text.slice(relayAuthor.length + 3) };
  return { kind: 'text', text };
}

/** Longest quote in a reply's fallback, in code points. */
const REPLY_QUOTE_MAX = 100;

/** The XEP-0461/XEP-0428 fallback quote that starts a reply's body: "> Nick: first line…\n". */
export function replyFallback(ref: MessageRef): string {
  const firstLine = (ref.text ?? '').split('\n')[0] ?? '';
  const cps = [...firstLine];
  const quote = cps.length > REPLY_QUOTE_MAX ? `${cps.slice(0, REPLY_QUOTE_MAX).join('')}…` : firstLine;
  return `> ${ref.nick ? `${ref.nick}: ` : ''}${quote}\n`;
}

/** Split attachments into the ones passed on (allowed https hosts) and the ones left out. */
export function partitionAttachments(
  attachments: readonly Attachment[] | undefined,
  isAllowedUrl: (url: string) => boolean,
): { passed: FileRef[]; omitted: Attachment[] } {
  const passed: FileRef[] = [];
  const omitted: Attachment[] = [];
  for (const a of attachments ?? []) {
    if (isAllowedUrl(a.url)) passed.push(attachmentToFile(a));
    else omitted.push(a);
  }
  return { passed, omitted };
}

/**
 * The body a post carries: the text, then one line per attachment URL (clients without
 * XEP-0066/XEP-0447 still see a link), then a note for each attachment left out.
 */
export function composeBody(text: string, passed: readonly FileRef[], omitted: readonly Attachment[]): string {
  const lines: string[] = text ? [text] : [];
  for (const f of passed) lines.push(f.url);
  for (const a of omitted) lines.push(`[attachment not bridged: ${a.filename ?? a.contentType}]`);
  return lines.join('\n');
}
