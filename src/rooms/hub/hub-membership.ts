/**
 * The hub's membership flow (protocol-06 §5.2, §5.3, §5.5; ARCHITECTURE §2 flow 1): membership
 * and role events of a linked legacy room become commits of the gateway bot: participant-list
 * changes, Adds of remote users' clients (key material fetched from their provider), Removes and
 * bans, and the Add of a native speaker's puppet. Callers hold the room lock.
 */
import { Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../../common/errors';
import { type ProviderDomain, type UserUri, domainOf } from '../../common/ids';
import { BANNED_ROLE_INDEX, type GatewayGroupSummary, type Participant } from '../../mls';
import type { Tx } from '../../persistence';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import { RoomRepository } from '../../persistence/repositories/room.repository';
import { RoomTransactions } from '../../persistence/room-transactions';
import { type InboundEvent, ParticipantRole, hasPuppetMembership } from '../../ports';
import { HubCommits } from '../hub-commits';
import { gatewayBotUri, legacyUserUri } from '../identity';
import { KeyMaterialClient, roomRequiredCapabilities } from '../key-material-client';
import { type KeyMaterialOutcome, RefusalLog, keyMaterialRefusal } from '../key-material-refusal';
import { MlsGroups } from '../mls-groups';
import { participantOf, roleIndexOf } from '../room-policy';
import { RoomSupport, need } from '../room-support';
import { hubKeyMaterialRequest } from '../wire-support';
import { KeyPackageRoutes } from './key-package-routes';
import { LegacyRecords } from './legacy-records';

const MEMBER_ROLE = roleIndexOf(ParticipantRole.Member);

type LegacyEvent<K extends InboundEvent['kind']> = Extract<InboundEvent, { kind: K }>;

@Injectable()
export class HubMembership {
  private readonly logger = new Logger(HubMembership.name);
  /** Why remote users could not be added (read once by the provisioning API). */
  readonly refusals = new RefusalLog();

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly groups: MlsGroups,
    private readonly commits: HubCommits,
    private readonly transactions: RoomTransactions,
    private readonly keyMaterial: KeyMaterialClient,
    private readonly routes: KeyPackageRoutes,
    private readonly records: LegacyRecords,
  ) {}

  private get domain(): ProviderDomain {
    return this.support.domain;
  }

  async onMembership(room: RoomRecord, event: LegacyEvent<'membership'>): Promise<void> {
    const target = event.user;
    const ghost = 'userUri' in target;
    const user = ghost ? target.userUri : legacyUserUri(this.domain, target.platform, target.userId);
    if (user === gatewayBotUri(this.domain)) return this.records.recordOnly(room, event);
    switch (event.membership) {
      case 'invite':
      case 'join':
        if (ghost && !this.support.isOurs(user)) return this.addRemoteUser(room, event, user);
        if (!ghost && event.membership === 'join') return this.setParticipant(room, event, user, MEMBER_ROLE, false);
        return this.records.recordOnly(room, event);
      case 'leave':
      case 'kick':
        return this.removeUser(room, event, user, false);
      case 'ban':
        return this.removeUser(room, event, user, true);
      case 'unban':
        return this.unban(room, event, user);
    }
  }

  async onRole(room: RoomRecord, event: LegacyEvent<'role'>): Promise<void> {
    const target = event.user;
    const user = 'userUri' in target ? target.userUri : legacyUserUri(this.domain, target.platform, target.userId);
    if (event.role === ParticipantRole.Banned) return this.removeUser(room, event, user, true);
    return this.setParticipant(room, event, user, roleIndexOf(event.role), true);
  }

  /** Add `user` to the participant list with `roleIndex`, or change its role (`onlyIfPresent`: role events). */
  private async setParticipant(
    room: RoomRecord,
    event: InboundEvent,
    user: UserUri,
    roleIndex: number,
    onlyIfPresent: boolean,
  ): Promise<void> {
    const view = await this.commits.botView(room.roomUri);
    const current = participantOf(view.participants, user);
    if (
      (current === undefined && onlyIfPresent) ||
      (current !== undefined && (!onlyIfPresent || current.roleIndex === roleIndex))
    ) {
      return this.records.recordOnly(room, event);
    }
    const next = current
      ? view.participants.map((p) => (p.user === user ? { user, roleIndex } : p))
      : [...view.participants, { user, roleIndex }];
    await this.transactions.run(async (tx) => {
      await this.commits.commitByBot(tx, room, { participants: next });
      await this.records.recordLegacy(tx, room, event.platformEventId, null);
    });
  }

  /**
   * A native user invited a remote MIMI user (a ghost): fetch key material from the user's
   * provider (protocol-06 §5.2, via us as the hub), then the bot commits the participant-list
   * change together with the Adds (§5.3) and the Welcome goes to that provider (§5.5).
   */
  private async addRemoteUser(room: RoomRecord, event: LegacyEvent<'membership'>, target: UserUri): Promise<void> {
    const view = await this.commits.botView(room.roomUri);
    const current = participantOf(view.participants, target);
    if (current?.roleIndex === BANNED_ROLE_INDEX) {
      this.logger.warn(`room=${room.roomUri}: ${target} is banned; invite ignored`);
      return this.records.recordOnly(room, event);
    }
    if (current !== undefined && view.members.some((m) => m.user === target)) {
      return this.records.recordOnly(room, event);
    }
    const targetDomain = domainOf(target)!;
    const inviter = event.by ? legacyUserUri(this.domain, event.by.platform, event.by.userId) : this.groups.botUser;
    const request = hubKeyMaterialRequest(await this.groups.hub(), {
      requestingUser: inviter,
      targetUser: target,
      roomId: room.roomUri,
    });
    const group = await this.groups.requireGroup(room.roomUri);
    const fetched = await this.keyMaterial.fetch(
      targetDomain,
      request,
      roomRequiredCapabilities(group.coreState.context.extensions),
      this.support.now(),
    );
    const usable = fetched.response === undefined ? [] : fetched.usable;
    if (fetched.response !== undefined && fetched.problems.length > 0) {
      this.logger.warn(
        `room=${room.roomUri}: key material of ${target} from ${targetDomain}: ${fetched.problems.join('; ')}`,
      );
    }
    if (usable.length === 0) {
      const outcome: KeyMaterialOutcome =
        fetched.response === undefined
          ? { kind: 'http', status: fetched.httpStatus, body: fetched.body }
          : (fetched.outcome ?? { kind: 'clients', clientStatuses: [] });
      const refusal = keyMaterialRefusal(target, targetDomain, outcome);
      this.logger.warn(`room=${room.roomUri}: ${refusal.message}`);
      this.refusals.remember(room.roomUri, target, refusal);
      await this.support.tellUser(room, event.platformEventId, refusal.message);
      return this.records.recordOnly(room, event);
    }
    const keyPackages = usable.map((k) => k.bytes);
    // protocol-06 §4.3.1: the Welcome goes where the KeyPackages came from.
    await this.routes.record(
      usable.map((k) => ({
        ref: k.ref,
        route: {
          room: room.roomUri,
          provider: targetDomain,
          requester: this.domain,
          user: k.user,
          notAfter: k.notAfter,
        },
      })),
    );
    await this.transactions.run(async (tx) => {
      const fresh = await this.commits.botView(room.roomUri);
      const participants = participantOf(fresh.participants, target)
        ? undefined
        : [...fresh.participants, { user: target, roleIndex: MEMBER_ROLE }];
      await this.commits.commitByBot(tx, room, { add: keyPackages, ...(participants ? { participants } : {}) });
      await this.records.recordLegacy(tx, room, event.platformEventId, null);
    });
    this.logger.log(`room=${room.roomUri}: added ${target} (${keyPackages.length} client(s))`);
    await Promise.resolve()
      .then(() =>
        need(this.support.bridge(room.platform), hasPuppetMembership, 'puppet membership').setMembership(
          this.support.legacyRoom(room),
          { userUri: target },
          'join',
        ),
      )
      .catch((e: unknown) => this.logger.warn(`room=${room.roomUri}: ghost join of ${target}: ${errorMessage(e)}`));
  }

  /**
   * Remove a user's clients and its participant entry (or make it banned) in ONE commit of the
   * bot: the Removes and the participant-list AppDataUpdate travel together (protocol-06 §5.3).
   */
  private async removeUser(room: RoomRecord, event: InboundEvent, user: UserUri, ban: boolean): Promise<void> {
    const view = await this.commits.botView(room.roomUri);
    const current = participantOf(view.participants, user);
    const leaves = view.members.filter((m) => m.user === user).map((m) => m.leafIndex);
    const listUnchanged = ban ? current?.roleIndex === BANNED_ROLE_INDEX : current === undefined;
    if (user === this.groups.botUser || (leaves.length === 0 && listUnchanged)) {
      return this.records.recordOnly(room, event);
    }
    await this.transactions.run(async (tx) => {
      await this.removeClientsAndEntry(tx, room, user, ban);
      await this.records.recordLegacy(tx, room, event.platformEventId, null);
    });
    this.logger.log(`room=${room.roomUri}: ${ban ? 'banned' : 'removed'} ${user}`);
  }

  private async removeClientsAndEntry(tx: Tx, room: RoomRecord, user: UserUri, ban: boolean): Promise<void> {
    const view = await this.commits.botView(room.roomUri);
    const leaves = view.members.filter((m) => m.user === user).map((m) => m.leafIndex);
    const list = view.participants;
    const present = participantOf(list, user);
    let next: Participant[] | undefined;
    if (ban) {
      if (present?.roleIndex !== BANNED_ROLE_INDEX) {
        next = present
          ? list.map((p) => (p.user === user ? { user, roleIndex: BANNED_ROLE_INDEX } : p))
          : [...list, { user, roleIndex: BANNED_ROLE_INDEX }];
      }
    } else if (present) {
      next = list.filter((p) => p.user !== user);
    }
    if (leaves.length === 0 && next === undefined) return;
    await this.commits.commitByBot(tx, room, { remove: leaves, ...(next ? { participants: next } : {}) });
    if (leaves.length > 0) await this.rooms.removeLocalMember(tx, room.roomUri, user);
  }

  private async unban(room: RoomRecord, event: InboundEvent, user: UserUri): Promise<void> {
    const view = await this.commits.botView(room.roomUri);
    if (participantOf(view.participants, user)?.roleIndex !== BANNED_ROLE_INDEX) {
      return this.records.recordOnly(room, event);
    }
    await this.transactions.run(async (tx) => {
      await this.commits.commitByBot(tx, room, { participants: view.participants.filter((p) => p.user !== user) });
      await this.records.recordLegacy(tx, room, event.platformEventId, null);
    });
  }

  /**
   * Make sure `user` has a puppet in the group (a legacy user speaking for the first time): the
   * bot commits the puppet's Add (and the participant entry if missing); a local puppet needs no
   * Welcome, the shared group state has it at once.
   */
  async ensureActiveMember(room: RoomRecord, user: UserUri, view: GatewayGroupSummary): Promise<void> {
    if (view.localMembers.some((m) => m.user === user)) return;
    await this.transactions.run(async (tx) => {
      const participants = participantOf(view.participants, user)
        ? undefined
        : [...view.participants, { user, roleIndex: MEMBER_ROLE }];
      await this.commits.commitByBot(tx, room, { addLocal: [user], ...(participants ? { participants } : {}) });
      await this.rooms.addLocalMember(tx, room.roomUri, user);
    });
  }
}
