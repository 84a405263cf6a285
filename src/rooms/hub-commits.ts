/**
 * The hub's commits (protocol-06 §5.3, §7.3): servers cannot commit, so every room change on a
 * room we hub is a commit of the gateway bot, accepted at once, made for all our members in the
 * shared group state and fanned out to the followers (the Welcome to remote joiners' providers).
 * Shared by `HubService` (legacy events) and `HubUpdates` (followers' commits).
 */
import { Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type ProviderDomain, type RoomUri, domainOf } from '../common/ids';
import { type GatewayChanges, type GatewayGroupSummary, type GatewayStagedCommit, keyPackageUser } from '../mls';
import type { Tx } from '../persistence';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import type { Role } from '../mimi/room-state';
import { MlsGroups } from './mls-groups';
import { rolesOf } from './room-state/room-components';
import { type FanoutItem, RoomSupport } from './room-support';
import { commitFanout, welcomeFanout } from './wire-support';

@Injectable()
export class HubCommits {
  constructor(
    private readonly groups: MlsGroups,
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
  ) {}

  /**
   * The bot commits `changes` (accepted at once: we are the hub) for all our members at once
   * (one shared group state); the commit goes to every follower that had clients before it (so
   * removed ones learn of it, protocol-06 §5.5) and the Welcome to the providers of remote joiners.
   */
  async commitByBot(tx: Tx, room: RoomRecord, changes: GatewayChanges): Promise<GatewayStagedCommit> {
    const group = await this.groups.requireGroup(room.roomUri);
    const before = this.groups.summaryOf(group);
    const staged = await group.commit(this.groups.botUser, changes);
    const now = this.support.now();
    const items: FanoutItem[] = [
      { destinations: this.support.followerDomains(before), message: commitFanout(staged, now) },
    ];
    const joinerDomains = new Set<ProviderDomain>();
    for (const kp of changes.add ?? []) {
      const d = domainOf(keyPackageUser(kp) ?? '');
      if (d !== undefined && d !== this.support.domain) joinerDomains.add(d);
    }
    if (staged.welcome !== undefined && joinerDomains.size > 0) {
      items.push({ destinations: [...joinerDomains], message: welcomeFanout(staged.welcome, staged.ratchetTree, now) });
    }
    await this.support.fanout(tx, room.roomUri, items);
    return staged;
  }

  /** @throws GatewayError(NotFound) when the room is not hubbed here. */
  async hubRoom(roomUri: RoomUri): Promise<RoomRecord> {
    const room = await this.rooms.findByUri(undefined, roomUri);
    if (room?.role !== 'hub') throw new GatewayError(ErrorCode.NotFound, `${roomUri} is not hosted here`);
    return room;
  }

  async botView(roomUri: RoomUri): Promise<GatewayGroupSummary> {
    return this.groups.summaryOf(await this.groups.requireGroup(roomUri));
  }

  /** The room's roles_list (room-policy-03 §3), or the default roles for a group linked without one. */
  async roles(roomUri: RoomUri): Promise<Role[]> {
    return rolesOf((await this.groups.requireGroup(roomUri)).coreState.context.extensions);
  }
}
