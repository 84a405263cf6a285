/**
 * The follower role (protocol-06 §3, §5.5; ARCHITECTURE §2 flow 5) for MIMI rooms hubbed by
 * another provider, mirrored into a local legacy room, and the target-provider side of
 * `/keyMaterial` (§5.2) for our legacy users.
 *
 * - `/notify` is accepted only from the room's hub; byte-identical bodies are processed once
 *   (§5.5); commits are processed by ALL our member clients of the room, application messages by
 *   one; messages are stored in arrival (= hub) order and rendered by the RenderWorker.
 * - A local user's post is encrypted by that user's puppet and submitted to the hub
 *   (`/submitMessage`); it only counts once the hub's `/notify` brings it back (confirmed). A
 *   refusal is shown to the user through the port (`notifyFailure`).
 * - Local joins, leaves, kicks, bans and role changes become commits of one of our clients sent
 *   to the hub with `/update` (participant-list change, plus the Add of a joining user's client).
 *
 * The `/notify` apply path is FollowerNotify (follower-notify.ts), the submission queue to the hub
 * FollowerSubmissions (follower-submissions.ts); this service delegates to them.
 */
import { Injectable, Logger } from '@nestjs/common';
import { type ProviderDomain, type RoomUri, type UserUri } from '../common/ids';
import { encodeMimiContentWithId, toHex } from '../mimi/content';
import { type KeyMaterialRequest, type KeyMaterialResponse, type UpdateRoomResponse } from '../mimi/wire';
import {
  BANNED_ROLE_INDEX,
  type ComponentData,
  type GatewayGroup,
  MlsErrorReason,
  MlsGroupError,
  type Participant,
  unframeMlsMessage,
} from '../mls';
import { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import { RoomSubmissionRepository } from '../persistence/repositories/room-submission.repository';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import { type InboundEvent, type LegacyUserRef, ParticipantRole, type StreamOrder } from '../ports';
import { contentForAction } from './content-mapping';
import { MediaAssets } from './media-assets';
import { FollowerNotify } from './follower-notify';
import { NotifyOrder } from './follower/notify-order';
import { FollowerSubmissions } from './follower-submissions';
import { FollowerExternalJoins } from './follower/external-joins';
import { restoreRefusedRemoval } from './follower/refused-removal';
import { legacyUserUri } from './identity';
import { MlsGroups } from './mls-groups';
import { HubRequests } from './hub-requests';
import { KeyMaterials } from './key-materials';
import { RoomLocks } from './room-locks';
import { diffParticipants, maySendMessage, participantOf, roleIndexOf } from './room-policy';
import { MirrorRoomState } from './room-state/mirror-room-state';
import { rolesOf } from './room-state/room-components';
import { RoomSupport, sha256Hex } from './room-support';
import { RoomTransactions } from '../persistence/room-transactions';

const MEMBER_ROLE = roleIndexOf(ParticipantRole.Member);
/** How often our epoch is looked at while waiting for the hub's commits (`waitForEpoch`). */
const EPOCH_POLL_MS = 50;

type LegacyEvent<K extends InboundEvent['kind']> = Extract<InboundEvent, { kind: K }>;

@Injectable()
export class FollowerService {
  private readonly logger = new Logger(FollowerService.name);
  private stopped = false;

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly submissions: RoomSubmissionRepository,
    private readonly groups: MlsGroups,
    private readonly hubRequests: HubRequests,
    private readonly keyMaterials: KeyMaterials,
    private readonly transactions: RoomTransactions,
    private readonly locks: RoomLocks,
    private readonly roomState: MirrorRoomState,
    private readonly submitQueue: FollowerSubmissions,
    private readonly notifications: FollowerNotify,
    private readonly media: MediaAssets,
    private readonly externalJoins: FollowerExternalJoins,
    private readonly notifyOrder: NotifyOrder,
  ) {}

  private get domain(): ProviderDomain {
    return this.support.domain;
  }

  // ---- /notify --------------------------------------------------------------------------------

  /**
   * protocol-06 §5.5 fan-out from the hub: FollowerNotify (follower-notify.ts), in stream order
   * when the hub pipelines (`order`, follower/notify-order.ts).
   * @throws GatewayError as FollowerNotify.notify; OutOfOrder (retryable) as NotifyOrder.run
   */
  notify(peer: ProviderDomain, roomUri: RoomUri, body: Uint8Array, order?: StreamOrder): Promise<void> {
    return this.notifyOrder.run(peer, roomUri, order, () => this.notifications.notify(peer, roomUri, body));
  }

  // ---- local events in mirror rooms -----------------------------------------------------------

  /**
   * An event of a mirror room (caller holds the room lock).
   * @param retryOnWrongEpoch throw `BehindHubError` instead of telling the user when the hub
   *   answers a local change with `wrongEpoch` (one of its commits is still on its way to us): the
   *   caller releases the lock, waits for our clients to catch up and hands the event in again.
   */
  async onLegacyEvent(room: RoomRecord, event: InboundEvent, retryOnWrongEpoch = false): Promise<void> {
    // Our ghosts' posts are our renders coming back; the render recorded their IDs already.
    if (event.kind === 'message' && 'userUri' in event.sender) return;
    if (await this.events.findLegacyEvent(undefined, event.room.platform, event.platformEventId)) return;
    switch (event.kind) {
      case 'message':
        await this.submitLocal(room, event, event.sender as LegacyUserRef);
        return;
      case 'membership':
        await this.onMembership(room, event, retryOnWrongEpoch);
        break;
      case 'role':
        await this.onRole(room, event, retryOnWrongEpoch);
        break;
      case 'roomMetadata':
        await this.onMetadata(room, event, retryOnWrongEpoch);
        break;
      case 'roomPolicy':
        break;
    }
    await this.recordOnly(room, event.platformEventId);
  }

  private async submitLocal(room: RoomRecord, event: LegacyEvent<'message'>, sender: LegacyUserRef): Promise<void> {
    const user = legacyUserUri(this.domain, sender.platform, sender.userId);
    const client = await this.activeClient(room, user);
    const may =
      client === undefined
        ? undefined
        : maySendMessage(
            rolesOf(client.coreState.context.extensions),
            this.groups.summaryOf(client).participants,
            user,
          );
    if (client === undefined || may?.allowed === false) {
      // A read marker from someone who may not post is dropped without a notice (read-receipts.ts).
      if (event.action.type !== 'read') {
        await this.support.tellUser(
          room,
          event.platformEventId,
          'You are not a participant of this MIMI room (or may not post); your message was not sent.',
        );
      }
      await this.recordOnly(room, event.platformEventId);
      return;
    }
    await this.transactions.run(async (tx) => {
      const content = await contentForAction(await this.media.publish(tx, room, event.action), {
        senderUri: user,
        roomUri: room.roomUri,
        platformEventId: event.platformEventId,
        scopeDomain: this.domain,
        timestamp: event.timestamp,
        senderProfile: await this.media.publishProfile(tx, room, sender),
        messageIdOf: (pe) => this.events.findMessageIdInRoom(tx, room.roomUri, room.platform, pe),
      });
      if (content === undefined) {
        await this.events.recordLegacyEvent(tx, {
          platform: room.platform,
          platformEventId: event.platformEventId,
          roomUri: room.roomUri,
          messageId: null,
        });
        return;
      }
      const { bytes, messageId } = encodeMimiContentWithId(content, user, room.roomUri);
      const appMessage = await client.encrypt(user, bytes);
      const id = toHex(messageId);
      await this.submissions.insert(tx, {
        roomUri: room.roomUri,
        bodySha256: sha256Hex(appMessage),
        direction: 'out',
        messageId: id,
        senderUri: user,
        appMessage,
        content: bytes,
        status: 'pending',
        platformEventId: event.platformEventId,
      });
      await this.events.recordLegacyEvent(tx, {
        platform: room.platform,
        platformEventId: event.platformEventId,
        roomUri: room.roomUri,
        messageId: id,
      });
      tx.afterCommit(() => this.submitQueue.kickSubmissions(room.roomUri));
    });
  }

  private async onMembership(room: RoomRecord, event: LegacyEvent<'membership'>, retry: boolean): Promise<void> {
    const target = event.user;
    const ghost = 'userUri' in target;
    const user = ghost ? target.userUri : legacyUserUri(this.domain, target.platform, target.userId);
    const by = event.by ? legacyUserUri(this.domain, event.by.platform, event.by.userId) : undefined;
    switch (event.membership) {
      case 'join':
        if (!ghost) await this.requestJoin(room, event.platformEventId, user, retry);
        return;
      case 'leave':
      case 'kick': {
        if (ghost && by === undefined) return; // a ghost leaving on its own is our render coming back
        const without = (list: readonly Participant[]) => list.filter((p) => p.user !== user);
        const sent = await this.requestListChange(room, event.platformEventId, retry, by ?? user, without, user);
        if (!sent && ghost) await restoreRefusedRemoval(this.support, room, user, this.logger);
        return;
      }
      case 'ban':
        if (by === undefined) return;
        await this.requestListChange(
          room,
          event.platformEventId,
          retry,
          by,
          (list) =>
            participantOf(list, user)
              ? list.map((p) => (p.user === user ? { user, roleIndex: BANNED_ROLE_INDEX } : p))
              : [...list, { user, roleIndex: BANNED_ROLE_INDEX }],
          user,
        );
        return;
      case 'unban':
        if (by === undefined) return;
        await this.requestListChange(room, event.platformEventId, retry, by, (list) =>
          list.filter((p) => !(p.user === user && p.roleIndex === BANNED_ROLE_INDEX)),
        );
        return;
      case 'invite':
        return; // the invitee's join is what counts
    }
  }

  /** A local user renamed the mirror room or changed its topic: the hub applies it on its platform first (/update). */
  private async onMetadata(room: RoomRecord, event: LegacyEvent<'roomMetadata'>, retry: boolean): Promise<void> {
    if (event.by === undefined) return; // our own rendering of the hub's room_metadata
    const user = legacyUserUri(this.domain, event.by.platform, event.by.userId);
    const group = await this.activeClient(room, user);
    const change = group && this.roomState.metadataChange(group.coreState.context.extensions, room.roomUri, event);
    if (change === undefined) return;
    await this.requestListChange(room, event.platformEventId, retry, user, (list) => [...list], undefined, [change]);
  }

  private async onRole(room: RoomRecord, event: LegacyEvent<'role'>, retry: boolean): Promise<void> {
    if (event.by === undefined) return; // our own setRole coming back
    const target = event.user;
    const user = 'userUri' in target ? target.userUri : legacyUserUri(this.domain, target.platform, target.userId);
    const by = legacyUserUri(this.domain, event.by.platform, event.by.userId);
    const roleIndex = roleIndexOf(event.role);
    await this.requestListChange(room, event.platformEventId, retry, by, (list) =>
      list.map((p) => (p.user === user ? { user, roleIndex } : p)),
    );
  }

  /** A local user joined the mirror room: one of our member clients commits their Add and participant entry. */
  private async requestJoin(room: RoomRecord, platformEventId: string, user: UserUri, retry: boolean): Promise<void> {
    if ((await this.activeClient(room, user)) !== undefined) return;
    const [committer] = await this.support.activeMembers(room.roomUri);
    if (committer === undefined) return this.externalJoins.externalJoin(room, platformEventId, user);
    const group = await this.groups.requireGroup(room.roomUri);
    const response = await this.requestChange(
      room,
      group,
      committer,
      (list) => (participantOf(list, user) ? [...list] : [...list, { user, roleIndex: MEMBER_ROLE }]),
      { addLocal: [user] },
    );
    if (response.responseCode === 'success') {
      // Our puppet is in the shared group state at once: no Welcome comes back for it.
      await this.transactions.run((tx) => this.rooms.addLocalMember(tx, room.roomUri, user));
      this.logger.log(`room=${room.roomUri}: ${user} joined (added by ${committer})`);
    } else {
      if (retry) throwIfBehind(room, response);
      await this.support.tellUser(
        room,
        platformEventId,
        `You could not join the MIMI room: ${response.responseCode} ${response.errorDescription}`,
      );
    }
  }

  /**
   * Resolves once our clients of `roomUri` are at `epoch` or later (the hub's commits arrived by
   * /notify), or after `timeoutMs`. Takes the room lock only to look.
   */
  async waitForEpoch(roomUri: RoomUri, epoch: bigint, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.locks.run(roomUri, () => this.support.groupView(roomUri));
      if (view !== undefined && view.epoch >= epoch) return true;
      if (Date.now() >= deadline || this.stopped) return false;
      await new Promise((resolve) => setTimeout(resolve, EPOCH_POLL_MS));
    }
  }

  // ---- external joins (protocol-06 §5.6, §5.3) ------------------------------------------------

  /**
   * Follower mode without an invitation: FollowerExternalJoins.followRemote (follower/external-joins.ts).
   * @throws GatewayError as FollowerExternalJoins.followRemote
   */
  followRemote(roomUri: RoomUri, platform: string): Promise<RoomRecord> {
    return this.externalJoins.followRemote(roomUri, platform);
  }

  /**
   * A participant-list change made locally, committed by `committerUser`'s client and sent to the
   * hub. Resolves false when the hub refused it (the user was told) or nothing was sent.
   */
  private async requestListChange(
    room: RoomRecord,
    platformEventId: string,
    retry: boolean,
    committerUser: UserUri,
    change: (list: readonly Participant[]) => Participant[],
    removeClientsOf?: UserUri,
    appData: readonly ComponentData[] = [],
  ): Promise<boolean> {
    const group = await this.activeClient(room, committerUser);
    if (group === undefined) {
      this.logger.debug(`room=${room.roomUri}: ${committerUser} has no client in the group; change not sent`);
      return false;
    }
    // The removed user's clients leave in the same commit (protocol-06 §5.3); a committer cannot
    // remove its own leaf, so a user who leaves has the hub remove its clients afterwards.
    const remove =
      removeClientsOf === undefined || removeClientsOf === committerUser
        ? []
        : group
            .summary()
            .members.filter((m) => m.user === removeClientsOf)
            .map((m) => m.leafIndex);
    const response = await this.requestChange(room, group, committerUser, change, { remove, appData });
    if (response.responseCode !== 'success') {
      if (retry) throwIfBehind(room, response);
      await this.support.tellUser(
        room,
        platformEventId,
        `The MIMI hub refused this change: ${response.responseCode} ${response.errorDescription}`,
      );
      return false;
    }
    return true;
  }

  /**
   * Stage a commit of `committer` (participant list `change`, plus Adds: our puppets `addLocal`,
   * other providers' KeyPackages `add` fetched through the hub), send it to the hub with `/update`
   * (protocol-06 §5.3, with the Welcome when `add` is given) and merge it on `success`, drop it
   * otherwise. The caller holds the room lock.
   */
  async requestChange(
    room: RoomRecord,
    group: GatewayGroup,
    committer: UserUri,
    change: (list: readonly Participant[]) => Participant[],
    more: {
      add?: readonly Uint8Array[];
      addLocal?: readonly UserUri[];
      remove?: readonly number[];
      appData?: readonly ComponentData[];
    } = {},
  ): Promise<UpdateRoomResponse> {
    const current = group.summary().participants;
    const next = change(current);
    const listChanged = diffParticipants(current, next);
    const participants =
      listChanged.added.length + listChanged.removed.length + listChanged.roleChanges.length > 0 ? next : undefined;
    const add = more.add ?? [];
    const addLocal = more.addLocal ?? [];
    const remove = more.remove ?? [];
    const appData = more.appData ?? [];
    if (participants === undefined && add.length + addLocal.length + remove.length + appData.length === 0) {
      return { responseCode: 'success', errorDescription: '', acceptedTimestamp: 0n };
    }
    const staged = await group.stageCommit(committer, {
      ...(participants ? { participants } : {}),
      add,
      addLocal,
      remove,
      appData,
    });
    let response: UpdateRoomResponse;
    try {
      // Our own joiners are in the shared group state already: their Welcome stays here; other
      // providers' joiners get theirs through the hub.
      response = await this.hubRequests.sendUpdate(room, {
        commit: staged.commit,
        ...(add.length > 0 && staged.welcome !== undefined ? { welcome: unframeMlsMessage(staged.welcome) } : {}),
        groupInfo: staged.groupInfo,
        ratchetTree: staged.ratchetTree,
      });
    } catch (e) {
      await group.discardStagedCommit();
      throw e;
    }
    if (response.responseCode === 'success') {
      try {
        const gone = group
          .summary()
          .localMembers.filter((m) => staged.effects.removedLocalLeaves.includes(m.leafIndex))
          .map((m) => m.user);
        await this.transactions.run(async (tx) => {
          await group.mergeStagedCommit();
          for (const user of gone) await this.rooms.removeLocalMember(tx, room.roomUri, user);
        });
      } catch (e) {
        // The hub's /notify with this commit came first and merged it already.
        if (!(e instanceof MlsGroupError && e.reason === MlsErrorReason.NoCommitPending)) throw e;
      }
    } else {
      await group.discardStagedCommit();
      this.logger.warn(
        `room=${room.roomUri}: the hub refused a change: ${response.responseCode} ${response.errorDescription}`,
      );
    }
    return response;
  }

  // ---- submissions to the hub -----------------------------------------------------------------

  /** Submit every pending local message (after a restart): FollowerSubmissions (follower-submissions.ts). */
  resumeSubmissions(): Promise<void> {
    return this.submitQueue.resumeSubmissions();
  }

  /** Stop submitting (before the database closes); submissions in flight finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.submitQueue.stop();
  }

  // ---- /keyMaterial (target provider) ----------------------------------------------------------

  /** protocol-06 §5.2 for one of our legacy users: `KeyMaterials.keyMaterial` (key-materials.ts). */
  keyMaterial(peer: ProviderDomain, targetUser: UserUri, request: KeyMaterialRequest): Promise<KeyMaterialResponse> {
    return this.keyMaterials.keyMaterial(peer, targetUser, request);
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** The room's group when `user` is one of our members in it. */
  private async activeClient(room: RoomRecord, user: UserUri): Promise<GatewayGroup | undefined> {
    const group = await this.groups.group(room.roomUri);
    return group?.isLocalMember(user) ? group : undefined;
  }

  private async recordOnly(room: RoomRecord, platformEventId: string): Promise<void> {
    await this.transactions.run((tx) =>
      this.events.recordLegacyEvent(tx, {
        platform: room.platform,
        platformEventId,
        roomUri: room.roomUri,
        messageId: null,
      }),
    );
  }
}

/**
 * The hub refused a local change with `wrongEpoch`: one of its commits is still on its way to us.
 * Thrown under the room lock by `FollowerService.onLegacyEvent(…, retryOnWrongEpoch)`; the caller
 * waits (lock released) until our clients reached `currentEpoch`, then hands the event in again.
 */
export class BehindHubError extends Error {
  constructor(
    readonly roomUri: RoomUri,
    readonly currentEpoch: bigint,
  ) {
    super(`${roomUri}: the hub is at epoch ${currentEpoch}; our clients have not caught up yet`);
  }
}

function throwIfBehind(room: RoomRecord, response: UpdateRoomResponse): void {
  if (response.responseCode === 'wrongEpoch') throw new BehindHubError(room.roomUri, response.currentEpoch);
}
