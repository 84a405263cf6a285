/**
 * A Matrix mirror room whose MIMI room was unlinked at its hub (issue 10 item 6): the bot says so
 * in an m.notice, then raises `events_default` in m.room.power_levels to its own level so that
 * clients stop offering the room's users to post (only the bot, a creator of the mirror room,
 * may still send). Both steps are idempotent: the notice has a fixed transaction ID, and the
 * power levels are left alone once closed.
 */
import { txnIdFor } from './matrix-errors';

/** Power level needed to send events in a closed mirror room. */
export const CLOSED_EVENTS_DEFAULT = 100;

/** What closing needs of the bot's client (matrix-bot-sdk's MatrixClient has these). */
export interface ClosingClient {
  doRequest(method: string, path: string, qs: null, body: unknown): Promise<unknown>;
  getRoomStateEvent(roomId: string, type: string, stateKey: string): Promise<unknown>;
  sendStateEvent(roomId: string, type: string, stateKey: string, content: unknown): Promise<unknown>;
}

export async function closeMatrixMirror(client: ClosingClient, roomId: string, notice: string): Promise<void> {
  const txnId = txnIdFor('closed', `${roomId}\n${notice}`);
  await client.doRequest(
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(txnId)}`,
    null,
    { msgtype: 'm.notice', body: notice, 'm.mentions': {} },
  );
  const pl = ((await client.getRoomStateEvent(roomId, 'm.room.power_levels', '')) ?? {}) as Record<string, unknown>;
  if (typeof pl['events_default'] === 'number' && pl['events_default'] >= CLOSED_EVENTS_DEFAULT) return;
  await client.sendStateEvent(roomId, 'm.room.power_levels', '', { ...pl, events_default: CLOSED_EVENTS_DEFAULT });
}
