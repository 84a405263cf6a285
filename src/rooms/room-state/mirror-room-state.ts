/**
 * A follower's mirror room shows the MIMI room's name and topic (protocol-06 §7.6 room_metadata,
 * as the hub wrote it into the group): after each fan-out that changes the group, a changed name
 * or topic is set in the mirror room through the bridge's `RoomDetails` capability.
 */
import { Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../../common/errors';
import type { RoomUri } from '../../common/ids';
import type { RoomMetadata } from '../../mimi/room-state';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import { hasRoomDetails } from '../../ports';
import { MlsGroups } from '../mls-groups';
import { RoomSupport } from '../room-support';
import { detailsChange, metadataComponent, readRoomState, withLegacyChange } from './room-components';
import type { ComponentData } from '../../mls';

@Injectable()
export class MirrorRoomState {
  private readonly logger = new Logger(MirrorRoomState.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly groups: MlsGroups,
  ) {}

  /** The room_metadata our copy of the group carries (undefined: no group, no component, or unreadable). */
  async metadata(roomUri: RoomUri): Promise<RoomMetadata | undefined> {
    const group = await this.groups.group(roomUri);
    if (group === undefined) return undefined;
    try {
      return readRoomState(group.coreState.context.extensions).metadata;
    } catch (e) {
      this.logger.warn(`room=${roomUri}: the hub's room state is malformed: ${errorMessage(e)}`);
      return undefined;
    }
  }

  /** The room_metadata component a local change of the mirror's name/topic asks for, or undefined when nothing changes. */
  metadataChange(
    extensions: Parameters<typeof readRoomState>[0],
    roomUri: RoomUri,
    change: { name?: string; topic?: string; avatarUrl?: string },
  ): ComponentData | undefined {
    const current = readRoomState(extensions).metadata;
    const next = withLegacyChange(current, roomUri, change);
    return detailsChange(current, next) === undefined ? undefined : metadataComponent(next);
  }

  /** Set the mirror room's name and topic where `after` differs from `before` (best effort: a failure is logged). */
  async mirror(room: RoomRecord, before: RoomMetadata | undefined, after: RoomMetadata | undefined): Promise<void> {
    const details = detailsChange(before, after);
    if (details === undefined) return;
    const bridge = this.support.bridge(room.platform);
    if (!hasRoomDetails(bridge)) return;
    try {
      await bridge.setRoomDetails(this.support.legacyRoom(room), details);
    } catch (e) {
      this.logger.warn(`room=${room.roomUri}: cannot show the room's name/topic: ${errorMessage(e)}`);
    }
  }
}
