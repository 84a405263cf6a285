/**
 * The hub's commits (protocol-06 §5.3, §7.3): servers cannot commit, so every room change on a
 * room we hub is a commit of the gateway bot, accepted at once, made for all our members in the
 * shared group state and fanned out to the followers (the Welcome to remote joiners' providers).
 * Shared by `HubService` (legacy events) and `HubUpdates` (followers' commits).
 */
import { Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import type { ProviderDomain, RoomUri } from '../common/ids';
import type { GatewayChanges, GatewayGroupSummary, GatewayStagedCommit } from '../mls';
import type { Tx } from '../persistence';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import type { Role } from '../mimi/room-state';
import { KeyPackageRoutes } from './hub/key-package-routes';
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
    private readonly routes: KeyPackageRoutes,
  ) {}

  /**
   * The bot commits `changes` (accepted at once: we are the hub) for all our members at once
   * (one shared group state); the commit goes to every follower that had clients before it (so
   * removed ones learn of it, protocol-06 §5.5) and the Welcome to the providers of remote joiners.
   */
  async commitByBot(tx: Tx, room: RoomRecord, changes: GatewayChanges): Promise<GatewayStagedCommit> {
    const group = await this.groups.requireGroup(room.roomUri);
    const before = this.groups.summaryOf(group);
    const foreign = (changes.add ?? [])
      .map((kp) => this.groups.store.checkKeyPackage(kp))
      .filter((k) => !this.support.isOurs(k.user))
      .map((k) => k.ref);
    const joinerDomains = foreign.length > 0 ? await this.welcomeDestinations(room, foreign, this.support.now()) : [];
    const staged = await group.commit(this.groups.botUser, changes);
    const now = this.support.now();
    const items: FanoutItem[] = [
      { destinations: this.support.followerDomains(before), message: commitFanout(staged, now) },
    ];
    // protocol-06 §4.3.1: the Welcome goes to the providers the KeyPackages came from (hub/key-package-routes.ts).
    if (staged.welcome !== undefined && joinerDomains.length > 0) {
      items.push({ destinations: joinerDomains, message: welcomeFanout(staged.welcome, staged.ratchetTree, now) });
    }
    await this.support.fanout(tx, room.roomUri, items);
    return staged;
  }

  /**
   * The providers a Welcome for the KeyPackages `refs` (of other providers' users) goes to: each
   * ref's recorded provider (KeyPackageRoutes), not the domain its credential names. The records
   * are dropped (the Welcome goes out once).
   * @throws GatewayError(NotAllowed) when a KeyPackage was not fetched through us for this room
   *   (we could not know where its Welcome goes)
   */
  async welcomeDestinations(room: RoomRecord, refs: readonly Uint8Array[], now: number): Promise<ProviderDomain[]> {
    const routing = await this.routes.route(room.roomUri, refs, now);
    if (routing.unknown.length > 0) {
      throw new GatewayError(
        ErrorCode.NotAllowed,
        `${routing.unknown.length} added KeyPackage(s) were not fetched through the hub for ${room.roomUri}: their Welcome cannot be routed`,
      );
    }
    await this.routes.forget([...routing.destinations.values()].flat());
    return [...routing.destinations.keys()].filter((d) => d !== this.support.domain);
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
