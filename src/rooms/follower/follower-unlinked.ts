/**
 * Issue 10 item 6 on a follower: the hub's commit that removed all our clients carries the
 * unlink reason (`unlink-notice.ts`). Then the room is no longer followed: its record goes in the
 * `/notify` transaction (later local posts in the mirror room reach nothing: the sink reports the
 * room unlinked), and after the commit the mirror room says so and stops offering to post
 * (`ClosableMirrorRooms`; for a bridge without it this is only logged).
 */
import { Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../../common/errors';
import { domainOf } from '../../common/ids';
import { type GatewayProcessed, handshakeAuthenticatedData } from '../../mls';
import type { Tx } from '../../persistence';
import { type RoomRecord, RoomRepository } from '../../persistence/repositories/room.repository';
import { canCloseMirrorRooms } from '../../ports';
import { RoomSupport } from '../room-support';
import { unlinkReasonOf, unlinkedNotice } from '../unlink-notice';

/**
 * The unlink reason when `processed` is a commit of the room's hub (its committer a user of the
 * hub's provider) that left us no client and whose authenticated_data says the room was unlinked.
 */
export function unlinkedBy(
  room: RoomRecord,
  commit: Uint8Array,
  processed: GatewayProcessed | undefined,
): string | undefined {
  if (processed?.kind !== 'commit' || !processed.groupGone) return undefined;
  if (processed.committer === undefined || domainOf(processed.committer) !== room.hubDomain) return undefined;
  return unlinkReasonOf(handshakeAuthenticatedData(commit));
}

@Injectable()
export class FollowerUnlinked {
  private readonly logger = new Logger(FollowerUnlinked.name);

  constructor(
    private readonly rooms: RoomRepository,
    private readonly support: RoomSupport,
  ) {}

  /** If `processed` (of `commit`) is the hub's unlink: stop following the room. Resolves with whether it was. */
  async onCommit(
    tx: Tx,
    room: RoomRecord,
    commit: Uint8Array,
    processed: GatewayProcessed | undefined,
  ): Promise<boolean> {
    const reason = unlinkedBy(room, commit, processed);
    if (reason === undefined) return false;
    await this.rooms.delete(tx, room.roomUri);
    const notice = unlinkedNotice(room.hubDomain, reason);
    tx.afterCommit(() => void this.closeMirror(room, notice));
    this.logger.log(`room=${room.roomUri}: unlinked at its hub ${room.hubDomain} (${reason}); no longer followed`);
    return true;
  }

  private async closeMirror(room: RoomRecord, notice: string): Promise<void> {
    const bridge = this.support.bridge(room.platform);
    try {
      if (canCloseMirrorRooms(bridge)) await bridge.closeMirrorRoom(this.support.legacyRoom(room), notice);
      else this.logger.warn(`room=${room.roomUri}: the ${room.platform} bridge cannot close its mirror room`);
    } catch (e) {
      this.logger.warn(`room=${room.roomUri}: closing the mirror room: ${errorMessage(e)}`);
    }
  }
}
