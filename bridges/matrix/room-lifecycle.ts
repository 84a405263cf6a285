/**
 * Room changes the gateway cannot bridge, said out loud instead of lost in silence (issue 13 §8):
 * - an encrypted room (`m.room.encryption` state): the gateway holds no Matrix keys, so it would
 *   see only `m.room.encrypted` events it cannot read. `!mimi link` is refused; a linked room that
 *   turns encryption on is told its messages no longer cross.
 * - an upgraded room (`m.room.tombstone`) is followed, not lost: room-upgrade.ts moves the link to
 *   the replacement room and tells both rooms.
 */
import type { MatrixEvent } from './matrix-event.mapper';

/** Why `!mimi link` is refused in a room whose `m.room.encryption` state is `encryption`, if it is set. */
export function encryptedLinkRefusal(encryption: Record<string, unknown> | undefined): string | undefined {
  if (encryption === undefined || Object.keys(encryption).length === 0) return undefined;
  const algorithm = typeof encryption['algorithm'] === 'string' ? ` (${encryption['algorithm']})` : '';
  return (
    `This room is end-to-end encrypted${algorithm}. The MIMI gateway cannot read encrypted messages, ` +
    'so it does not link encrypted rooms: nothing would cross. Use an unencrypted room to bridge to MIMI.'
  );
}

/**
 * The notice a LINKED room gets for a state event that stops bridging, or undefined for any
 * other event. The caller posts it (as the bot) and logs it.
 */
export function lifecycleNotice(ev: MatrixEvent): string | undefined {
  if (ev.state_key !== '') return undefined;
  if (ev.type === 'm.room.encryption' && Object.keys(ev.content).length > 0) {
    return (
      'This room now uses end-to-end encryption. The MIMI gateway cannot read encrypted messages: from now on ' +
      'messages sent here do not reach the MIMI room, and MIMI messages still arrive here. ' +
      'Encryption cannot be turned off; `!mimi unlink` stops the bridge.'
    );
  }
  return undefined;
}

/** Why `!mimi link` is refused in `roomId`, read from its `m.room.encryption` state; undefined when it is not encrypted. */
export async function encryptedRoomRefusal(client: StateReader, roomId: string): Promise<string | undefined> {
  return encryptedLinkRefusal(await stateOrUndefined(client, roomId, 'm.room.encryption'));
}

interface StateReader {
  getRoomStateEvent(roomId: string, type: string, stateKey: string): Promise<unknown>;
}

/** A room state event's content, or undefined when the room has none (404). @throws the client's error otherwise */
async function stateOrUndefined(
  client: StateReader,
  roomId: string,
  type: string,
): Promise<Record<string, unknown> | undefined> {
  try {
    return (await client.getRoomStateEvent(roomId, type, '')) as Record<string, unknown>;
  } catch (e) {
    if ((e as { statusCode?: unknown } | undefined)?.statusCode === 404) return undefined;
    throw e;
  }
}
