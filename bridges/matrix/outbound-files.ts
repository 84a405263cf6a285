/**
 * A post with several files on Matrix. A Matrix event carries one file (`url` of an m.image,
 * m.file, …), so a post whose attachments include media of this homeserver (uploaded there by
 * the core, src/rooms/media-assets.ts) is sent as one event per attachment, in order: the first
 * carries the post's text as its caption, its mentions and its reply (and is the event the post
 * is known by: edits, reactions and redactions name it); each other one carries its file alone,
 * an `m.reference` relation to the first and the key `FILE_OF_KEY` naming it, so its echo is not
 * taken for a new message and a delete of the post redacts it too (found through the relations
 * API). Without media of this homeserver the post stays one event, its files linked in the text
 * (matrix-outbound.mapper.ts).
 */
import type { MessageAction } from '../../src/ports';
import type { MapperContext } from './matrix-event.core';
import { matrixStatus } from './matrix-errors';
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
  return {
    ...content,
    'm.relates_to': { rel_type: 'm.reference', event_id: firstEventId },
    [FILE_OF_KEY]: firstEventId,
  };
}

/** What the relations lookup needs of a client (matrix-bot-sdk's `doRequest`). */
interface RequestClient {
  doRequest(method: string, path: string, qs?: unknown, body?: unknown): Promise<unknown>;
}

/**
 * The further file events of the post whose first event is `firstEventId` (client-server API
 * "Relationships": `GET /relations/{eventId}/m.reference`), sent by our ghosts or bot; none when
 * the homeserver does not know the event or the endpoint (400/404).
 */
export async function fileEventsOf(
  client: RequestClient,
  roomId: string,
  firstEventId: string,
  ids: MatrixIds,
): Promise<string[]> {
  const path = `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/relations/${encodeURIComponent(firstEventId)}/m.reference`;
  let res: { chunk?: { event_id?: unknown; sender?: unknown; type?: unknown; content?: Record<string, unknown> }[] };
  try {
    res = (await client.doRequest('GET', path, { limit: 100 })) as typeof res;
  } catch (e) {
    const status = matrixStatus(e);
    if (status === 400 || status === 404) return [];
    throw e;
  }
  return (res.chunk ?? []).flatMap((ev) =>
    typeof ev.event_id === 'string' &&
    typeof ev.sender === 'string' &&
    typeof ev.type === 'string' &&
    isFileOfEcho({ type: ev.type, sender: ev.sender, content: ev.content ?? {} }, ids) &&
    ev.content?.[FILE_OF_KEY] === firstEventId
      ? [ev.event_id]
      : [],
  );
}

/** True for the echo of a further file event one of our ghosts sent (part of a post already recorded). */
export function isFileOfEcho(
  ev: { readonly type: string; readonly sender: string; readonly content: Record<string, unknown> },
  ids: MatrixIds,
): boolean {
  return ev.type === 'm.room.message' && typeof ev.content[FILE_OF_KEY] === 'string' && ids.isOwnUser(ev.sender);
}
