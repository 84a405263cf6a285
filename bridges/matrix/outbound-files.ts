/**
 * A post with several files on Matrix. A Matrix event carries one file (`url` of an m.image,
 * m.file, …), so a post whose attachments include media of this homeserver (uploaded there by
 * the core, src/rooms/media-assets.ts) is sent as one event per attachment, in order: the first
 * carries the post's text as its caption, its mentions and its reply (and is the event the post
 * is known by: edits, reactions and redactions name it); each other one carries its file alone
 * and the key `FILE_OF_KEY` naming the first, so its echo is not taken for a new message. Without
 * media of this homeserver the post stays one event, its files linked in the text
 * (matrix-outbound.mapper.ts).
 */
import type { MessageAction } from '../../src/ports';
import type { MapperContext } from './matrix-event.core';
import { type MatrixIds, mxcOfDownloadUrl } from './matrix-ids';

type Post = Extract<MessageAction, { type: 'post' }>;

/** Content key of a post's further file events: the event ID of the post's first event. */
export const FILE_OF_KEY = 'org.mimi_gateway.file_of';

/** The posts `action` is sent as, in order: itself, or one per attachment (module comment). */
export function splitFiles(action: Post, ctx: MapperContext): [Post, ...Post[]] {
  const attachments = action.body.attachments ?? [];
  const hasMedia = attachments.some((a) => mxcOfDownloadUrl(ctx.homeserverUrl, a.url) !== undefined);
  if (attachments.length < 2 || !hasMedia) return [action];
  const [first, ...rest] = attachments;
  return [
    { ...action, body: { ...action.body, attachments: [first!] } },
    ...rest.map((a): Post => ({ type: 'post', body: { kind: 'text', text: '', attachments: [a] } })),
  ];
}

/** The content of a further file event of the post whose first event is `firstEventId`. */
export function fileOf(content: Record<string, unknown>, firstEventId: string): Record<string, unknown> {
  return { ...content, [FILE_OF_KEY]: firstEventId };
}

/** True for the echo of a further file event one of our ghosts sent (part of a post already recorded). */
export function isFileOfEcho(
  ev: { readonly type: string; readonly sender: string; readonly content: Record<string, unknown> },
  ids: MatrixIds,
): boolean {
  return ev.type === 'm.room.message' && typeof ev.content[FILE_OF_KEY] === 'string' && ids.isOwnUser(ev.sender);
}
