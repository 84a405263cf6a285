/**
 * A user of ours was added to a MIMI room hubbed elsewhere (their puppet joined by Welcome): the
 * local room that mirrors it is where they take part, so they get a real invitation there, the
 * platform's way (`Invitations`: a Matrix invite, an XEP-0249 direct invitation to the MUC).
 * Without that capability, or when it fails, they can still find the room (portal alias, the
 * MUC's address); the failure is logged, never the room's problem.
 */
import type { Logger } from '@nestjs/common';
import { errorMessage } from '../common/errors';
import type { UserUri } from '../common/ids';
import type { RoomRecord } from '../persistence/repositories/room.repository';
import { hasInvitations } from '../ports';
import { parseLegacyUserUri } from './identity';
import type { RoomSupport } from './room-support';

export async function inviteToMirror(
  support: RoomSupport,
  room: RoomRecord,
  joiner: UserUri,
  logger: Pick<Logger, 'log' | 'warn'>,
): Promise<void> {
  const legacy = parseLegacyUserUri(joiner);
  if (legacy === undefined || legacy.platform !== room.platform || room.role !== 'follower') return;
  const bridge = support.bridge(room.platform);
  if (!hasInvitations(bridge)) return;
  try {
    await bridge.inviteUser(
      support.legacyRoom(room),
      { platform: legacy.platform, userId: legacy.userId },
      { reason: `You were added to the MIMI room ${room.roomUri} (hub ${room.hubDomain})` },
    );
    logger.log(`room=${room.roomUri}: invited ${legacy.userId} into ${room.legacyRoomId}`);
  } catch (e) {
    logger.warn(
      `room=${room.roomUri}: could not invite ${legacy.userId} into ${room.legacyRoomId}: ${errorMessage(e)}`,
    );
  }
}
