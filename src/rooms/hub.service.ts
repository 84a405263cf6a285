/**
 * The hub role (protocol-06 §3, §5; ARCHITECTURE §2 flows 1, 3, 4): for rooms linked to a legacy
 * room of ours, the legacy room is the source of truth and this gateway orders, authorises and
 * fans out. Servers cannot commit (protocol-06 §7.3), so every room change here is a commit of the
 * gateway bot (`HubCommits`), which the hub then accepts at once; legacy users speak through their
 * own puppets (leaves of the shared group state), so followers see each of them as a distinct MLS
 * member. Followers' commits (`/update`) are `HubUpdates`'s; membership and role events are
 * `HubMembership`'s (hub/hub-membership.ts) and `/submitMessage` is `HubSubmissions`'s
 * (hub/hub-submissions.ts).
 *
 * Every public method that touches a room runs inside that room's lock (RoomLocks) and writes
 * the MLS state, the room log and the outbox rows of one change in ONE transaction.
 */
import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type ProviderDomain, type RoomUri, roomUri as makeRoomUri } from '../common/ids';
import { encodeMimiContentWithId, toHex } from '../mimi/content';
import {
  type GroupInfoRequest,
  type GroupInfoResponse,
  type SubmitMessageRequest,
  type SubmitMessageResponse,
  type UpdateRequest,
  type UpdateRoomResponse,
} from '../mimi/wire';
import { BANNED_ROLE_INDEX, type Participant, groupIdForRoom } from '../mls';
import { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import { RoomSubmissionRepository } from '../persistence/repositories/room-submission.repository';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import { type InboundEvent, type LegacyUserRef, ParticipantRole, type RemoteUser } from '../ports';
import { isReadWithoutClient } from './read-receipts';
import { contentForAction, contentKind } from './content-mapping';
import { legacyUserUri } from './identity';
import { MediaAssets } from './media-assets';
import { MlsGroups } from './mls-groups';
import { HubCommits } from './hub-commits';
import { HubUpdates } from './hub-updates';
import { HubGroupInfo } from './hub-group-info';
import { HubRoomState } from './room-state/hub-room-state';
import { RoomLocks } from './room-locks';
import { participantOf, roleIndexOf } from './room-policy';
import { RoomSupport } from './room-support';
import type { RefusalLog } from './key-material-refusal';
import { HubMembership } from './hub/hub-membership';
import { HubSubmissions } from './hub/hub-submissions';
import { echoCanBePostOf } from './hub/ghost-echo';
import { LegacyRecords } from './hub/legacy-records';
import { RoomTransactions } from '../persistence/room-transactions';
import { applicationFanout } from './wire-support';

const OWNER_ROLE = roleIndexOf(ParticipantRole.Owner);

type LegacyEvent<K extends InboundEvent['kind']> = Extract<InboundEvent, { kind: K }>;

@Injectable()
export class HubService {
  private readonly logger = new Logger(HubService.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly submissions: RoomSubmissionRepository,
    private readonly groups: MlsGroups,
    private readonly commits: HubCommits,
    private readonly updates: HubUpdates,
    private readonly groupInfos: HubGroupInfo,
    private readonly roomState: HubRoomState,
    private readonly transactions: RoomTransactions,
    private readonly locks: RoomLocks,
    private readonly media: MediaAssets,
    private readonly membership: HubMembership,
    private readonly submitted: HubSubmissions,
    private readonly records: LegacyRecords,
  ) {}

  /** Why remote users could not be added (read once by the provisioning API): `HubMembership`'s. */
  get refusals(): RefusalLog {
    return this.membership.refusals;
  }

  private get domain(): ProviderDomain {
    return this.support.domain;
  }

  // ---- linking ------------------------------------------------------------------------------

  /**
   * Link an existing legacy room: this gateway becomes its hub and the bot creates the MLS group
   * with the hub as external sender and the room's native members as (inactive) participants.
   * @throws GatewayError NotFound (no bridge), Conflict (already linked), PlatformError.
   */
  async linkRoom(platform: string, legacyRoomId: string): Promise<RoomUri> {
    const bridge = this.support.bridge(platform);
    if (await this.rooms.findByLegacyRoom(undefined, platform, legacyRoomId)) {
      throw new GatewayError(ErrorCode.Conflict, `${platform} room ${legacyRoomId} is already linked`);
    }
    const snapshot = await bridge.getRoomSnapshot({ platform: bridge.platform, roomId: legacyRoomId });
    const roomUri = makeRoomUri(this.domain, randomBytes(12).toString('hex'));
    const bot = this.groups.botUser;
    const participants: Participant[] = [{ user: bot, roleIndex: OWNER_ROLE }];
    for (const m of snapshot.members) {
      if ('userUri' in m.user) continue; // our ghosts of remote users are not carried over
      const user = legacyUserUri(this.domain, m.user.platform, m.user.userId);
      if (!participants.some((p) => p.user === user)) participants.push({ user, roleIndex: roleIndexOf(m.role) });
    }
    const hub = await this.groups.hub();
    const components = await this.roomState.initialComponents(roomUri, bridge, snapshot);
    await this.locks.run(roomUri, () =>
      this.transactions.run(async (tx) => {
        await this.groups.store.createGroup({
          groupId: groupIdForRoom(roomUri),
          creator: bot,
          hub: hub.externalSender,
          participants,
          components,
        });
        await this.rooms.insert(tx, {
          roomUri,
          role: 'hub',
          hubDomain: this.domain,
          platform,
          legacyRoomId,
        });
        await this.rooms.addLocalMember(tx, roomUri, bot);
      }),
    );
    this.logger.log(`linked ${platform} room ${legacyRoomId} as ${roomUri} (${participants.length} participants)`);
    return roomUri;
  }

  // ---- flow 1: legacy → MIMI ------------------------------------------------------------------

  /**
   * An event of a linked legacy room (caller holds the room lock). Idempotent on its platform event ID.
   * May run inside a caller's transaction (a batch, hub-ingest.ts): its reads and writes join it.
   */
  async onLegacyEvent(room: RoomRecord, event: InboundEvent): Promise<void> {
    const tx = this.transactions.current();
    if (await this.events.findLegacyEvent(tx, event.room.platform, event.platformEventId)) return;
    switch (event.kind) {
      case 'message':
        return 'userUri' in event.sender
          ? this.onGhostMessage(room, event, event.sender)
          : this.onNativeMessage(room, event, event.sender);
      case 'membership':
        return this.membership.onMembership(room, event);
      case 'role':
        return this.membership.onRole(room, event);
      case 'roomMetadata':
      case 'roomPolicy':
        return this.roomState.onLegacyChange(room, event);
    }
  }

  private async onNativeMessage(room: RoomRecord, event: LegacyEvent<'message'>, sender: LegacyUserRef): Promise<void> {
    const user = legacyUserUri(this.domain, sender.platform, sender.userId);
    const view = await this.commits.botView(room.roomUri);
    if (participantOf(view.participants, user)?.roleIndex === BANNED_ROLE_INDEX) {
      this.logger.warn(`room=${room.roomUri} event=${event.platformEventId}: ${user} is banned; not sent`);
      return this.records.recordOnly(room, event);
    }
    if (isReadWithoutClient(event, view.members, user)) return this.records.recordOnly(room, event); // read-receipts.ts
    await this.membership.ensureActiveMember(room, user, view);
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
        this.logger.debug(
          `room=${room.roomUri} event=${event.platformEventId}: refers to an unknown message; not sent`,
        );
        await this.records.recordLegacy(tx, room, event.platformEventId, null);
        return;
      }
      const { bytes, messageId } = encodeMimiContentWithId(content, user, room.roomUri);
      const ciphertext = await (await this.groups.requireGroup(room.roomUri)).encrypt(user, bytes);
      const acceptedAt = this.support.now();
      const id = toHex(messageId);
      await this.events.insert(tx, {
        roomUri: room.roomUri,
        seq: await this.rooms.allocateEventSeq(tx, room.roomUri),
        messageId: id,
        senderUri: user,
        kind: contentKind(content),
        content: bytes,
        acceptedAt,
        renderStatus: 'none',
      });
      await this.records.recordLegacy(tx, room, event.platformEventId, id);
      // Adding a speaker's puppet (ensureActiveMember) never adds a follower provider.
      const destinations = this.support.followerDomains(view);
      await this.support.fanout(tx, room.roomUri, [
        { destinations, message: applicationFanout(ciphertext, acceptedAt) },
      ]);
    });
  }

  /**
   * An event by one of our ghosts: the echo of something we posted. Posts of submitted messages
   * are normally recognised by their platform event ID (recorded when the post returned); one
   * that is still `posting` (the post timed out, or we crashed before recording it) is completed
   * now, so the message is fanned out exactly once (ARCHITECTURE §2 flow 3), when the echo is
   * that post (hub/ghost-echo.ts).
   */
  private async onGhostMessage(room: RoomRecord, event: LegacyEvent<'message'>, sender: RemoteUser): Promise<void> {
    const tx = this.transactions.current();
    const pending = await this.submissions.oldestWithStatus(tx, room.roomUri, sender.userUri, 'in', 'posting');
    if (pending === undefined) return this.records.recordOnly(room, event);
    // Only the post of that submission completes it (hub/ghost-echo.ts); anything else of the same
    // ghost (a reaction's echo, a read marker) is left unrecorded, and the submission to its retry.
    const platformEventIdOf = (id: string) => this.events.findPlatformEventId(tx, room.roomUri, room.platform, id);
    if (!(await echoCanBePostOf(event.action, pending.content, platformEventIdOf))) {
      this.logger.log(
        `room=${room.roomUri}: the echo ${event.platformEventId} (${event.action.type}) is not the post of submission ${pending.messageId}; it waits for its retry`,
      );
      return;
    }
    this.logger.log(
      `room=${room.roomUri}: the echo ${event.platformEventId} completes submission ${pending.messageId}`,
    );
    await this.submitted.completeSubmission(room, pending, event.platformEventId, event.timestamp);
  }

  // ---- flow 3: /submitMessage -----------------------------------------------------------------

  /** protocol-06 §5.4: `HubSubmissions.submitMessage` (hub/hub-submissions.ts). */
  submitMessage(peer: ProviderDomain, roomUri: RoomUri, request: SubmitMessageRequest): Promise<SubmitMessageResponse> {
    return this.submitted.submitMessage(peer, roomUri, request);
  }

  // ---- flow 4 from followers: /update ---------------------------------------------------------

  /** protocol-06 §5.3 for a follower's commit: `HubUpdates.update` (hub-updates.ts). */
  update(peer: ProviderDomain, roomUri: RoomUri, request: UpdateRequest): Promise<UpdateRoomResponse> {
    return this.updates.update(peer, roomUri, request);
  }

  // ---- /groupInfo -----------------------------------------------------------------------------

  /** protocol-06 §5.6: `HubGroupInfo.groupInfo` (hub-group-info.ts). */
  groupInfo(peer: ProviderDomain, roomUri: RoomUri, request: GroupInfoRequest): Promise<GroupInfoResponse> {
    return this.groupInfos.groupInfo(peer, roomUri, request);
  }
}
