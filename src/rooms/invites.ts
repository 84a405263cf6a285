/**
 * Invites of MIMI users of other providers into rooms hubbed here, as a native admin would on the
 * platform:
 *
 * - by URI (`inviteUri`: the provisioning API, a Matrix invite of a ghost);
 * - by human address (`inviteAddress`: `!mimi invite xmpp:bob@b.test` or `!mimi invite
 *   @carol:other.hs` in a linked room), resolved through the provider's `/identifierQuery`
 *   (address-resolver.ts) first.
 *
 * Either resolves once the user is a participant: key material fetched from their provider, the
 * Add committed, the Welcome queued for them. Every refusal carries the provider's own reason.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type RoomUri, type UserUri, parseMimiUri } from '../common/ids';
import { RoomRepository } from '../persistence/repositories/room.repository';
import { type InboundEvent, type LegacyRoomRef, type LegacyUserRef, hasUserDirectory } from '../ports';
import { AddressResolver } from './address-resolver';
import { FollowerInvites } from './follower/follower-invites';
import { legacyUserUri } from './identity';
import { HubService } from './hub.service';
import { RoomLocks } from './room-locks';
import { RoomSupport } from './room-support';

@Injectable()
export class RemoteInvites {
  private readonly logger = new Logger(RemoteInvites.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly hub: HubService,
    private readonly locks: RoomLocks,
    private readonly resolver: AddressResolver,
    private readonly followerInvites: FollowerInvites,
  ) {}

  /**
   * Invite the user `address` names into the linked legacy room `room`, asked by `by` (whose
   * platform permission the bridge checked). Resolves with the invited user's URI.
   * In a mirror room (hubbed elsewhere) the inviter's own client adds them, with key material
   * fetched through the hub (FollowerInvites).
   * @throws GatewayError NotFound (the room is not linked), BadValue (not an address, or a user of
   *   this gateway), and the provider's and the hub's refusals (see AddressResolver.resolve,
   *   inviteUri and FollowerInvites.invite).
   */
  async inviteAddress(room: LegacyRoomRef, address: string, by: LegacyUserRef): Promise<UserUri> {
    const record = await this.rooms.findByLegacyRoom(undefined, room.platform, room.roomId);
    if (record === undefined) throw new GatewayError(ErrorCode.NotFound, 'this room is not bridged to MIMI');
    await this.refuseLocal(address);
    const userUri = await this.resolver.resolve(address);
    if (record.role !== 'hub') {
      // A mirror room: the inviter's client adds them, key material through the hub (follower/follower-invites.ts).
      if (this.support.isOurs(userUri)) {
        throw new GatewayError(
          ErrorCode.BadValue,
          `${userUri} is a user of this provider: invite them on the platform`,
        );
      }
      await this.followerInvites.invite(record, userUri, legacyUserUri(this.support.domain, by.platform, by.userId));
      this.logger.log(`room=${record.roomUri}: ${by.userId} invited ${userUri} through the hub ${record.hubDomain}`);
      return userUri;
    }
    await this.inviteUri(record.roomUri, userUri, by);
    return userUri;
  }

  /**
   * Invite the MIMI user `userUri` into the room `roomUri` hubbed here.
   * @throws GatewayError BadValue (not a remote user URI), NotFound (no such room), NotAllowed (hubbed
   *   elsewhere), or — with their provider's reason — NotFound (no such user), Forbidden (no consent),
   *   PeerUnavailable (no usable key material)
   */
  async inviteUri(roomUri: RoomUri, userUri: UserUri, by?: LegacyUserRef): Promise<void> {
    const parsed = parseMimiUri(userUri);
    if (parsed?.kind !== 'u') throw new GatewayError(ErrorCode.BadValue, `not a MIMI user URI: ${userUri}`);
    if (this.support.isOurs(userUri)) {
      throw new GatewayError(ErrorCode.BadValue, `${userUri} is a user of this provider: invite them on the platform`);
    }
    const room = await this.rooms.findByUri(undefined, roomUri);
    if (room === undefined) throw new GatewayError(ErrorCode.NotFound, `no room ${roomUri}`);
    if (room.role !== 'hub') {
      throw new GatewayError(ErrorCode.NotAllowed, `${roomUri} is hubbed by ${room.hubDomain}: invite there`);
    }
    const event: InboundEvent = {
      kind: 'membership',
      room: this.support.legacyRoom(room),
      platformEventId: `mimi-invite:${randomUUID()}`,
      user: { userUri },
      membership: 'invite',
      ...(by !== undefined ? { by } : {}),
      timestamp: Date.now(),
    };
    const participant = await this.locks.run(roomUri, async () => {
      const current = await this.rooms.findByUri(undefined, roomUri);
      if (current === undefined) throw new GatewayError(ErrorCode.NotFound, `no room ${roomUri}`);
      await this.hub.onLegacyEvent(current, event);
      return (await this.support.groupView(roomUri))?.participants.some((p) => p.user === userUri) ?? false;
    });
    const refusal = this.hub.refusals.take(roomUri, userUri);
    if (!participant) {
      throw new GatewayError(
        refusal?.code ?? ErrorCode.PeerUnavailable,
        refusal?.message ?? `${userUri} could not be added (see the gateway log)`,
      );
    }
    this.logger.log(`room=${roomUri}: invited ${userUri}${by ? ` (asked by ${by.userId})` : ''}`);
  }

  /** @throws GatewayError BadValue when one of our bridges serves the user `address` names. */
  private async refuseLocal(address: string): Promise<void> {
    for (const bridge of this.support.allBridges()) {
      if (!hasUserDirectory(bridge)) continue;
      const found = await bridge.lookupUser({ type: 'handle', value: address.trim() });
      if (found.kind === 'found') {
        throw new GatewayError(
          ErrorCode.BadValue,
          `${address} is a ${bridge.platform} user of this gateway: invite them on ${bridge.platform} itself`,
        );
      }
    }
  }
}
