/**
 * A linked legacy room replaced by another on its platform (a Matrix room upgrade: `m.room.tombstone`
 * names the replacement). The MIMI room stays the same (same URI, group, participants and log);
 * only the legacy room it is linked to changes, so that what is said in the new room crosses and
 * what crosses is posted there. The bridge has joined the new room before it asks.
 */
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { RoomRepository } from '../persistence/repositories/room.repository';
import { RoomTransactions } from '../persistence/room-transactions';
import type { RoomUri } from '../common/ids';
import type { LegacyRoomRef, LegacyUserRef } from '../ports';
import { RoomLocks } from './room-locks';

@Injectable()
export class LinkMoves {
  private readonly logger = new Logger(LinkMoves.name);

  constructor(
    private readonly rooms: RoomRepository,
    private readonly locks: RoomLocks,
    private readonly transactions: RoomTransactions,
  ) {}

  /**
   * Link the MIMI room of `from` to `to`. Idempotent: when `to` already carries the link of `from`'s
   * MIMI room (a replayed tombstone), it resolves with it.
   * @throws GatewayError NotFound (neither room is linked), Conflict (`to` carries another link,
   *   or the rooms are of different platforms)
   */
  async move(
    from: LegacyRoomRef,
    to: LegacyRoomRef,
    requestedBy: LegacyUserRef,
  ): Promise<{ roomUri: RoomUri; moved: boolean }> {
    if (from.platform !== to.platform) {
      throw new GatewayError(ErrorCode.Conflict, `a ${from.platform} room cannot move to a ${to.platform} room`);
    }
    const target = await this.rooms.findByLegacyRoom(undefined, to.platform, to.roomId);
    const source = await this.rooms.findByLegacyRoom(undefined, from.platform, from.roomId);
    if (source === undefined) {
      if (target !== undefined) return { roomUri: target.roomUri, moved: false };
      throw new GatewayError(ErrorCode.NotFound, `${from.roomId} is not bridged`);
    }
    if (target !== undefined) {
      throw new GatewayError(ErrorCode.Conflict, `${to.roomId} is linked to ${target.roomUri} already`);
    }
    await this.locks.run(source.roomUri, () =>
      this.transactions.run((tx) => this.rooms.moveLegacyRoom(tx, source.roomUri, to.roomId)),
    );
    this.logger.log(
      `room=${source.roomUri}: moved from ${from.roomId} to ${to.roomId} (asked by ${requestedBy.userId})`,
    );
    return { roomUri: source.roomUri, moved: true };
  }
}
