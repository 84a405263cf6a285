/**
 * External joins (protocol-06 §5.6, §5.3) for rooms hubbed elsewhere: following a remote room on a
 * local user's request (a portal alias), and a local user entering a mirror room where none of our
 * users is a member yet, by external commit. Split out of FollowerService (follower.service.ts).
 */
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError, errorMessage } from '../../common/errors';
import { type RoomUri, type UserUri, domainOf } from '../../common/ids';
import type { UpdateRoomResponse } from '../../mimi/wire';
import { groupIdForRoom, groupInfoFromBytes, participantListFromExtensions } from '../../mls';
import { type RoomRecord, RoomRepository } from '../../persistence/repositories/room.repository';
import { RoomTransactions } from '../../persistence/room-transactions';
import { ParticipantRole, canModerate, hasMirrorRooms } from '../../ports';
import { FollowerNotify } from '../follower-notify';
import { HubRequests } from '../hub-requests';
import { MlsGroups } from '../mls-groups';
import { RoomLocks } from '../room-locks';
import { participantOf, roleIndexOf } from '../room-policy';
import { RoomSupport, need } from '../room-support';

const MEMBER_ROLE = roleIndexOf(ParticipantRole.Member);
/** How often an external join is tried with a fresh GroupInfo after `wrongEpoch`. */
const MAX_EXTERNAL_JOIN_ATTEMPTS = 3;

@Injectable()
export class FollowerExternalJoins {
  private readonly logger = new Logger(FollowerExternalJoins.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly groups: MlsGroups,
    private readonly hubRequests: HubRequests,
    private readonly transactions: RoomTransactions,
    private readonly locks: RoomLocks,
    private readonly notifications: FollowerNotify,
  ) {}

  private get domain(): string {
    return this.support.domain;
  }

  /**
   * Follower mode without an invitation: a local user asked for the remote MIMI room `roomUri`
   * (a portal alias). Asks the hub whether the room exists and is open to us (a `/groupInfo`
   * probe in the gateway bot's name), then creates the mirror room through `platform`'s bridge and
   * records it. Local users who join the mirror enter the MIMI room by external commit
   * (`externalJoin`). Idempotent: a room already known here is returned as it is.
   * @throws GatewayError NotFound (the hub has no such room), NotAllowed (the room is not open to
   *   our users, or is hosted here), PeerUnavailable (the hub did not answer)
   */
  async followRemote(roomUri: RoomUri, platform: string): Promise<RoomRecord> {
    return this.locks.run(roomUri, async () => {
      const known = await this.rooms.findByUri(undefined, roomUri);
      if (known !== undefined) return known;
      const hub = domainOf(roomUri);
      if (hub === undefined) throw new GatewayError(ErrorCode.BadValue, `not a MIMI room URI: ${roomUri}`);
      if (hub === this.domain) throw new GatewayError(ErrorCode.NotFound, `no room ${roomUri} here`);
      const probe = await this.hubRequests.fetchGroupInfo(hub, roomUri, this.groups.botUser);
      if (probe.status === 'noSuchRoom') throw new GatewayError(ErrorCode.NotFound, `${hub} has no room ${roomUri}`);
      if (probe.status === 'notAuthorized') {
        throw new GatewayError(
          ErrorCode.NotAllowed,
          `${roomUri} is not open to users of ${this.domain}: ask a member of the room to invite you`,
        );
      }
      const mirror = await need(this.support.bridge(platform), hasMirrorRooms, 'mirror rooms').createMirrorRoom(
        roomUri,
        {},
      );
      await this.transactions.run((tx) =>
        this.rooms.insert(tx, {
          roomUri,
          role: 'follower',
          hubDomain: hub,
          platform: mirror.platform,
          legacyRoomId: mirror.roomId,
        }),
      );
      this.logger.log(
        `following ${roomUri} (hub ${hub}) on request, mirrored in ${mirror.platform} room ${mirror.roomId}`,
      );
      return (await this.rooms.findByUri(undefined, roomUri))!;
    });
  }

  /**
   * A local user entered a mirror room where none of our users is a member yet: their puppet
   * fetches the GroupInfo from the hub (`/groupInfo`) and joins by external commit (`/update`).
   * A `wrongEpoch` (the room moved on meanwhile) is retried with a fresh GroupInfo. Refused: the
   * user is told why and removed from the mirror room, which must not show them a room they are
   * not in.
   */
  async externalJoin(room: RoomRecord, platformEventId: string, user: UserUri): Promise<void> {
    const store = this.groups.store;
    const groupId = groupIdForRoom(room.roomUri);
    let refusal: string | undefined;
    for (let attempt = 1; attempt <= MAX_EXTERNAL_JOIN_ATTEMPTS; attempt++) {
      const info = await this.hubRequests.fetchGroupInfo(room.hubDomain, room.roomUri, user);
      if (info.status !== 'success') {
        refusal = info.status === 'notAuthorized' ? 'the room is not open to you' : 'the hub has no such room';
        break;
      }
      // State of an earlier membership (removed, or never recorded as a local member) is replaced.
      if (await store.hasGroup(groupId)) await store.deleteGroup(groupId);
      // The joiner's own participant entry travels in the external commit (protocol-06 §5.3).
      const list = participantListFromExtensions(groupInfoFromBytes(info.groupInfo).groupContext.extensions) ?? [];
      const participants = participantOf(list, user) ? undefined : [...list, { user, roleIndex: MEMBER_ROLE }];
      const joined = await this.transactions.run(() =>
        store.joinExternal(user, info.groupInfo, {
          ratchetTree: info.ratchetTree,
          ...(participants ? { participants } : {}),
        }),
      );
      let response: UpdateRoomResponse;
      try {
        const next = await joined.group.groupInfo(user);
        response = await this.hubRequests.sendUpdate(room, {
          commit: joined.commit,
          groupInfo: next.groupInfo,
          ratchetTree: next.ratchetTree,
        });
      } catch (e) {
        await this.transactions.run(() => store.deleteGroup(groupId));
        throw e;
      }
      if (response.responseCode === 'success') {
        await this.transactions.run((tx) => this.rooms.addLocalMember(tx, room.roomUri, user));
        this.logger.log(`room=${room.roomUri}: ${user} joined by external commit (epoch ${joined.group.epoch})`);
        // Show who is there (our user's participant entry came with the commit).
        await this.notifications.renderMembership(room, [], joined.group.summary().participants);
        return;
      }
      await this.transactions.run(() => store.deleteGroup(groupId));
      refusal = `${response.responseCode} ${response.errorDescription}`.trim();
      if (response.responseCode !== 'wrongEpoch') break;
      this.logger.debug(`room=${room.roomUri}: external join of ${user}: ${refusal}; retrying`);
    }
    this.logger.warn(`room=${room.roomUri}: external join of ${user} refused: ${refusal}`);
    await this.support.tellUser(room, platformEventId, `You could not join the MIMI room ${room.roomUri}: ${refusal}`);
    const native = this.support.nativeUser(user);
    if (native !== undefined) {
      await Promise.resolve()
        .then(() =>
          need(this.support.bridge(room.platform), canModerate, 'moderation').moderate(
            this.support.legacyRoom(room),
            native,
            'kick',
            `not admitted to the MIMI room: ${refusal}`,
          ),
        )
        .catch((e: unknown) => this.logger.warn(`room=${room.roomUri}: kick of ${user}: ${errorMessage(e)}`));
    }
  }
}
