/**
 * What the bot does to a room on the core's behalf: kick / ban / unban, power levels for a role,
 * name and topic, abuse reports (abuse-report.ts) and, in follower mode, creating a mirror room
 * behind its portal alias. The bridge wraps each call in its request deadlines (PostGuard).
 */
import type { Intent } from 'matrix-appservice-bridge';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import type { RoomUri } from '../../src/common/ids';
import type { AbuseReportNotice, LegacyRoomRef, ParticipantRole } from '../../src/ports';
import type { MentionResolver } from './html-markdown';
import { powerLevelForRole, powerLevelOf, roomRef } from './matrix-event.mapper';
import type { MatrixIds } from './matrix-ids';
import { matrixErrcode, toPlatformError } from './matrix-errors';
import type { RoomStateReader } from './room-state-reader';
import { deliverAbuseReport, moderatorsOf } from './abuse-report';

export interface RoomAdminDeps {
  readonly bot: () => Intent;
  readonly ids: MatrixIds;
  readonly mentions: MentionResolver;
  readonly roomState: RoomStateReader;
}

export class RoomAdmin {
  constructor(private readonly deps: RoomAdminDeps) {}

  async moderate(roomId: string, mxid: string, action: 'kick' | 'ban' | 'unban', reason?: string): Promise<void> {
    const client = this.deps.bot().matrixClient;
    if (action === 'kick') await client.kickUser(mxid, roomId, reason);
    else if (action === 'ban') await client.banUser(mxid, roomId, reason);
    else await client.unbanUser(mxid, roomId);
  }

  /** The bot edits m.room.power_levels so that `mxid` has the level of `role` (not Banned). */
  async setRole(roomId: string, mxid: string, role: Exclude<ParticipantRole, ParticipantRole.Banned>): Promise<void> {
    const { roomState } = this.deps;
    if ((await roomState.roomCreators(roomId)).has(mxid)) return; // a creator's level cannot change
    const pl = (await roomState.roomPowerLevels(roomId)) ?? {};
    const level = powerLevelForRole(role, pl);
    if (powerLevelOf(pl, mxid) === level) return;
    const users = { ...((pl.users as Record<string, unknown> | undefined) ?? {}) };
    const usersDefault = typeof pl.users_default === 'number' ? pl.users_default : 0;
    if (level === usersDefault) delete users[mxid];
    else users[mxid] = level;
    const content = { ...pl, users };
    await this.deps.bot().matrixClient.sendStateEvent(roomId, 'm.room.power_levels', '', content);
    roomState.rememberPowerLevels(roomId, content);
  }

  /** The bot sets m.room.name / m.room.topic (a mirror room follows the MIMI room_metadata). */
  async setRoomDetails(roomId: string, details: { name?: string; topic?: string }): Promise<void> {
    const client = this.deps.bot().matrixClient;
    if (details.name !== undefined) {
      await client.sendStateEvent(roomId, 'm.room.name', '', { name: details.name });
    }
    if (details.topic !== undefined) {
      await client.sendStateEvent(roomId, 'm.room.topic', '', { topic: details.topic });
    }
  }

  /** protocol-06 §5.9: a notice to the room's moderators and the homeserver's report API (abuse-report.ts). */
  async reportAbuse(roomId: string, report: AbuseReportNotice): Promise<void> {
    const { roomState, ids } = this.deps;
    const moderators = moderatorsOf(
      await roomState.roomPowerLevels(roomId),
      await roomState.roomCreators(roomId),
      (mxid) => ids.isOwnUser(mxid),
    );
    const abuser = this.deps.mentions.mxidOf(report.abuser) ?? report.abuser;
    await deliverAbuseReport(this.deps.bot().matrixClient, roomId, report, moderators, abuser);
  }

  /**
   * Follower mode: a local room mirroring the remote MIMI room `roomUri`, reachable through its
   * portal alias. Returns the existing room when the alias is already taken by us.
   * @throws PlatformError
   */
  async createMirrorRoom(roomUri: RoomUri, opts: { name?: string }): Promise<LegacyRoomRef> {
    const localpart = this.deps.ids.portalAliasLocalpart(roomUri);
    const alias = this.deps.ids.portalAlias(roomUri);
    if (localpart === undefined || alias === undefined) {
      throw new PlatformError(ErrorCode.PlatformRejected, `no portal alias for ${roomUri}`, { retryable: false });
    }
    try {
      const res = (await this.deps.bot().matrixClient.doRequest('POST', '/_matrix/client/v3/createRoom', null, {
        room_alias_name: localpart,
        preset: 'public_chat',
        visibility: 'private',
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        topic: `Mirror of the MIMI room ${roomUri}`,
      })) as { room_id: string };
      return roomRef(res.room_id);
    } catch (e) {
      if (matrixErrcode(e) === 'M_ROOM_IN_USE') {
        return roomRef(await this.deps.bot().matrixClient.resolveRoom(alias));
      }
      throw toPlatformError(e, `create mirror room for ${roomUri}`);
    }
  }
}
