/**
 * Read receipts (issue 13 item 4), Matrix side:
 * - in: the `m.receipt` ephemeral events of an appservice transaction (`ephemeral`, or MSC2409's
 *   `de.sorunome.msc2409.ephemeral` from older homeservers; the registration asks for them with
 *   `receive_ephemeral`) become `read` actions of the native users who sent them. Our ghosts' and
 *   the bot's receipts are our own renders coming back, and are dropped; so are private and
 *   threaded ones (only the main timeline's public read position is shared).
 * - out: a `read` action is the ghost's public read receipt on the target event.
 */
import type { Intent } from 'matrix-appservice-bridge';
import type { InboundEvent } from '../../src/ports';
import { roomRef, userRef, type MapperContext } from './matrix-event.mapper';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The platform event ID we give a receipt: one per reader and event, so a repeat is a duplicate. */
export function receiptEventId(mxid: string, eventId: string): string {
  return `m.read|${mxid}|${eventId}`;
}

/** The `read` events of native users in a list of ephemeral events; anything else is skipped. */
export function readEventsOf(ephemeral: readonly unknown[], ctx: MapperContext, botUserId: string): InboundEvent[] {
  const out: InboundEvent[] = [];
  for (const ev of ephemeral) {
    if (!isObject(ev) || ev['type'] !== 'm.receipt' || typeof ev['room_id'] !== 'string') continue;
    const roomId = ev['room_id'];
    if (!isObject(ev['content'])) continue;
    for (const [eventId, byType] of Object.entries(ev['content'])) {
      if (!isObject(byType) || !isObject(byType['m.read'])) continue;
      for (const [mxid, receipt] of Object.entries(byType['m.read'])) {
        if (!isObject(receipt) || mxid === botUserId || ctx.ids.userUriOfGhost(mxid) !== undefined) continue;
        const thread = receipt['thread_id'];
        if (thread !== undefined && thread !== 'main') continue;
        out.push({
          kind: 'message',
          room: roomRef(roomId),
          platformEventId: receiptEventId(mxid, eventId),
          sender: userRef(ctx, roomId, mxid),
          action: { type: 'read', target: { platformEventId: eventId } },
          timestamp: typeof receipt['ts'] === 'number' ? receipt['ts'] : Date.now(),
        });
      }
    }
  }
  return out;
}

/** Post the ghost's read receipt on `eventId`; the receipt's platform event ID (receiptEventId). */
export async function sendReadReceipt(
  ghost: { readonly id: string; readonly intent: Intent },
  roomId: string,
  eventId: string,
): Promise<string> {
  await ghost.intent.matrixClient.doRequest(
    'POST',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`,
    null,
    {},
  );
  return receiptEventId(ghost.id, eventId);
}
