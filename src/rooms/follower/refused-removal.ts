/**
 * A local user removed a MIMI user's ghost from a mirror room (a MUC kick, a Matrix kick), and the
 * hub refused the change (the room's roles_list does not give that user the right, room-policy-03
 * §8.1): the MIMI room did not change, so the mirror room must not show it changed either. The
 * platform already carried the kick out, so the ghost joins again. Best effort: a failure is
 * logged (the user was told of the refusal already).
 */
import type { Logger } from '@nestjs/common';
import { errorMessage } from '../../common/errors';
import type { UserUri } from '../../common/ids';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import { hasPuppetMembership } from '../../ports';
import type { RoomSupport } from '../room-support';

export async function restoreRefusedRemoval(
  support: RoomSupport,
  room: RoomRecord,
  ghost: UserUri,
  logger: Pick<Logger, 'log' | 'warn'>,
): Promise<void> {
  const bridge = support.bridge(room.platform);
  if (!hasPuppetMembership(bridge)) return;
  try {
    await bridge.setMembership(
      support.legacyRoom(room),
      await support.profiles.remoteUser(room.platform, ghost),
      'join',
    );
    logger.log(
      `room=${room.roomUri}: the hub refused the removal of ${ghost}; its ghost is back in ${room.legacyRoomId}`,
    );
  } catch (e) {
    logger.warn(`room=${room.roomUri}: could not bring the ghost of ${ghost} back: ${errorMessage(e)}`);
  }
}
