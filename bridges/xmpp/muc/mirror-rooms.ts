/** Follower mode: the MUC that mirrors a MIMI room, created on the configured MUC service. */
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import type { RoomUri } from '../../../src/common/ids';
import type { LegacyRoomRef } from '../../../src/ports';
import { mirrorRoomLocalpart } from '../protocol/puppet-jid';
import { MUC_STATUS } from '../protocol/stanzas';
import type { MucOccupancy } from './occupancy';
import type { RoomInfo } from './room-info';
import { type MucRooms, roomRef } from './rooms';

export class MirrorRooms {
  constructor(
    private readonly rooms: MucRooms,
    private readonly occupancy: MucOccupancy,
    private readonly roomInfo: RoomInfo,
    private readonly opts: { readonly mucService?: string; readonly joinTimeoutMs: number },
  ) {}

  /**
   * Create (or reuse) the MUC that mirrors the MIMI room `roomUri` on the configured MUC service,
   * configured persistent, archived and not public, with the bot as owner.
   * @throws PlatformError PlatformRejected when no mucService is configured or the room belongs to someone else
   */
  async create(roomUri: RoomUri, opts: { name?: string } = {}): Promise<LegacyRoomRef> {
    if (!this.opts.mucService) {
      throw new PlatformError(ErrorCode.PlatformRejected, 'xmpp.mucService is not configured', { retryable: false });
    }
    const jid = `${mirrorRoomLocalpart(roomUri)}@${this.opts.mucService}`;
    const r = this.rooms.runtime(jid);
    r.state.mirrorOf = roomUri;
    this.rooms.changed();
    r.name = opts.name ?? roomUri;
    const self = await this.occupancy.ensureBot(r, Date.now() + this.opts.joinTimeoutMs);
    const created = self?.statusCodes.includes(MUC_STATUS.ROOM_CREATED) ?? false;
    const me = r.botNick !== undefined ? r.occupants.get(r.botNick) : undefined;
    if (!created && me?.affiliation !== 'owner') {
      throw new PlatformError(ErrorCode.PlatformRejected, `${jid} exists and the bridge does not own it`, {
        retryable: false,
      });
    }
    // A new room was configured when the bot created it (joinBot); an existing one gets its name again.
    if (!created) await this.roomInfo.configure(r);
    return roomRef(jid);
  }
}
