/**
 * The hub role (protocol-06 §3, §5; ARCHITECTURE §2 flows 1, 3, 4): for rooms linked to a legacy
 * room of ours, the legacy room is the source of truth and this gateway orders, authorises and
 * fans out. Servers cannot commit (protocol-06 §7.3), so every room change here is a commit of the
 * gateway bot (`HubCommits`), which the hub then accepts at once; legacy users speak through their
 * own puppets (leaves of the shared group state), so followers see each of them as a distinct MLS
 * member. Followers' commits (`/update`) are `HubUpdates`'s.
 *
 * Every public method that touches a room runs inside that room's lock (RoomLocks) and writes
 * the MLS state, the room log and the outbox rows of one change in ONE transaction.
 */
import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError, PlatformError, ValidationError, errorMessage } from '../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf, roomUri as makeRoomUri } from '../common/ids';
import {
  decodeMimiContent,
  encodeMimiContentWithId,
  getRoomUri,
  getSenderUri,
  receiveMimiContent,
  toHex,
} from '../mimi/content';
import {
  type GroupInfoRequest,
  type GroupInfoResponse,
  type SubmitMessageRequest,
  type SubmitMessageResponse,
  type UpdateRequest,
  type UpdateRoomResponse,
} from '../mimi/wire';
import {
  BANNED_ROLE_INDEX,
  EpochVerdict,
  type GatewayGroupSummary,
  MlsGroupError,
  type Participant,
  checkEpoch,
  groupIdForRoom,
  inspectMlsMessage,
} from '../mls';
import type { Tx } from '../persistence';
import { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import {
  type SubmissionRecord,
  RoomSubmissionRepository,
} from '../persistence/repositories/room-submission.repository';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import {
  type InboundEvent,
  type LegacyUserRef,
  type MessageAction,
  ParticipantRole,
  type RemoteUser,
  hasPuppetMembership,
} from '../ports';
import { isReadWithoutClient } from './read-receipts';
import { actionForContent, contentForAction, contentKind, senderProfileOf } from './content-mapping';
import { gatewayBotUri, legacyUserUri } from './identity';
import { MediaAssets } from './media-assets';
import { MlsGroups } from './mls-groups';
import { HubCommits } from './hub-commits';
import { HubUpdates } from './hub-updates';
import { HubGroupInfo } from './hub-group-info';
import { HubRoomState } from './room-state/hub-room-state';
import { RoomLocks } from './room-locks';
import { maySendMessage, participantOf, roleIndexOf } from './room-policy';
import { authoriseMessageChange } from './delete-policy';
import { RoomSupport, need, sha256Hex } from './room-support';
import { type KeyMaterialOutcome, RefusalLog, keyMaterialRefusal } from './key-material-refusal';
import { KeyMaterialClient, roomRequiredCapabilities } from './key-material-client';
import { KeyPackageRoutes } from './hub/key-package-routes';
import { RoomTransactions } from '../persistence/room-transactions';
import { DEFAULT_SUBMIT_POST_TIMEOUT_MS, ROOMS_OPTIONS, type RoomsOptions } from './rooms.tokens';
import { applicationFanout, hubKeyMaterialRequest } from './wire-support';

const MEMBER_ROLE = roleIndexOf(ParticipantRole.Member);
const OWNER_ROLE = roleIndexOf(ParticipantRole.Owner);

type LegacyEvent<K extends InboundEvent['kind']> = Extract<InboundEvent, { kind: K }>;

@Injectable()
export class HubService {
  private readonly logger = new Logger(HubService.name);
  private readonly submitPostTimeoutMs: number;
  /** Why remote users could not be added (read once by the provisioning API). */
  readonly refusals = new RefusalLog();

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
    @Inject(ROOMS_OPTIONS) options: RoomsOptions,
    private readonly keyMaterial: KeyMaterialClient,
    private readonly routes: KeyPackageRoutes,
  ) {
    this.submitPostTimeoutMs = options.submitPostTimeoutMs ?? DEFAULT_SUBMIT_POST_TIMEOUT_MS;
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
        return this.onMembership(room, event);
      case 'role':
        return this.onRole(room, event);
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
      return this.recordOnly(room, event);
    }
    if (isReadWithoutClient(event, view.members, user)) return this.recordOnly(room, event); // read-receipts.ts
    await this.ensureActiveMember(room, user, view);
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
        await this.recordLegacy(tx, room, event.platformEventId, null);
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
      await this.recordLegacy(tx, room, event.platformEventId, id);
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
   * now, so the message is fanned out exactly once (ARCHITECTURE §2 flow 3).
   */
  private async onGhostMessage(room: RoomRecord, event: LegacyEvent<'message'>, sender: RemoteUser): Promise<void> {
    const pending = await this.submissions.oldestWithStatus(
      this.transactions.current(),
      room.roomUri,
      sender.userUri,
      'in',
      'posting',
    );
    if (pending === undefined) return this.recordOnly(room, event);
    this.logger.log(
      `room=${room.roomUri}: the echo ${event.platformEventId} completes submission ${pending.messageId}`,
    );
    await this.completeSubmission(room, pending, event.platformEventId, event.timestamp);
  }

  private async onMembership(room: RoomRecord, event: LegacyEvent<'membership'>): Promise<void> {
    const target = event.user;
    const ghost = 'userUri' in target;
    const user = ghost ? target.userUri : legacyUserUri(this.domain, target.platform, target.userId);
    if (user === gatewayBotUri(this.domain)) return this.recordOnly(room, event);
    switch (event.membership) {
      case 'invite':
      case 'join':
        if (ghost && !this.support.isOurs(user)) return this.addRemoteUser(room, event, user);
        if (!ghost && event.membership === 'join') return this.setParticipant(room, event, user, MEMBER_ROLE, false);
        return this.recordOnly(room, event);
      case 'leave':
      case 'kick':
        return this.removeUser(room, event, user, false);
      case 'ban':
        return this.removeUser(room, event, user, true);
      case 'unban':
        return this.unban(room, event, user);
    }
  }

  private async onRole(room: RoomRecord, event: LegacyEvent<'role'>): Promise<void> {
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
      return this.recordOnly(room, event);
    }
    const next = current
      ? view.participants.map((p) => (p.user === user ? { user, roleIndex } : p))
      : [...view.participants, { user, roleIndex }];
    await this.transactions.run(async (tx) => {
      await this.commits.commitByBot(tx, room, { participants: next });
      await this.recordLegacy(tx, room, event.platformEventId, null);
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
      return this.recordOnly(room, event);
    }
    if (current !== undefined && view.members.some((m) => m.user === target)) return this.recordOnly(room, event);
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
      return this.recordOnly(room, event);
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
      await this.recordLegacy(tx, room, event.platformEventId, null);
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
    if (user === this.groups.botUser || (leaves.length === 0 && listUnchanged)) return this.recordOnly(room, event);
    await this.transactions.run(async (tx) => {
      await this.removeClientsAndEntry(tx, room, user, ban);
      await this.recordLegacy(tx, room, event.platformEventId, null);
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
    if (participantOf(view.participants, user)?.roleIndex !== BANNED_ROLE_INDEX) return this.recordOnly(room, event);
    await this.transactions.run(async (tx) => {
      await this.commits.commitByBot(tx, room, { participants: view.participants.filter((p) => p.user !== user) });
      await this.recordLegacy(tx, room, event.platformEventId, null);
    });
  }

  /**
   * Make sure `user` has a puppet in the group (a legacy user speaking for the first time): the
   * bot commits the puppet's Add (and the participant entry if missing); a local puppet needs no
   * Welcome, the shared group state has it at once.
   */
  private async ensureActiveMember(room: RoomRecord, user: UserUri, view: GatewayGroupSummary): Promise<void> {
    if (view.localMembers.some((m) => m.user === user)) return;
    await this.transactions.run(async (tx) => {
      const participants = participantOf(view.participants, user)
        ? undefined
        : [...view.participants, { user, roleIndex: MEMBER_ROLE }];
      await this.commits.commitByBot(tx, room, { addLocal: [user], ...(participants ? { participants } : {}) });
      await this.rooms.addLocalMember(tx, room.roomUri, user);
    });
  }

  // ---- flow 3: /submitMessage -----------------------------------------------------------------

  /**
   * protocol-06 §5.4. Checks, in order: the sender belongs to the calling provider, is an active
   * participant whose role may send, and the message is from the current epoch; then the bot
   * decrypts it and the MLS sender and the content's senderUri/roomUri must all be `sendingUri`
   * and this room. The message is posted into the legacy room as the sender's ghost, and
   * `accepted` is answered only once the platform accepted it; the original ciphertext is fanned
   * out to every follower, the submitter included, exactly once.
   * @throws GatewayError NotFound (not our room), Timeout/PlatformUnavailable (no answer from the
   *   platform in time: the follower may retry the same bytes).
   */
  async submitMessage(
    peer: ProviderDomain,
    roomUri: RoomUri,
    request: SubmitMessageRequest,
  ): Promise<SubmitMessageResponse> {
    return this.locks.run(roomUri, async () => {
      const room = await this.commits.hubRoom(roomUri);
      const sendingUri = request.sendingUri as UserUri;
      const refuse = (reason: string): SubmitMessageResponse => {
        this.logger.debug(`submitMessage room=${roomUri} from=${peer} sender=${sendingUri}: notAllowed: ${reason}`);
        return { protocol: 'mls10', statusCode: 'notAllowed' };
      };
      if (domainOf(sendingUri) !== peer) return refuse(`${peer} may not send for ${sendingUri}`);
      const view = await this.commits.botView(roomUri);
      const may = maySendMessage(await this.commits.roles(roomUri), view.participants, sendingUri);
      if (!may.allowed) return refuse(may.reason);
      if (!view.members.some((m) => m.user === sendingUri)) return refuse(`${sendingUri} has no client in the group`);
      const check = checkEpoch(inspectMlsMessage(request.appMessage), {
        groupId: groupIdForRoom(roomUri),
        epoch: view.epoch,
      });
      if (check.verdict === EpochVerdict.EpochTooOld) {
        this.logger.debug(`submitMessage room=${roomUri} from=${peer}: epochTooOld: ${check.reason}`);
        return { protocol: 'mls10', statusCode: 'epochTooOld', currentEpoch: check.currentEpoch };
      }
      if (check.verdict !== EpochVerdict.Ok) return refuse(check.reason);

      const bodySha256 = sha256Hex(request.appMessage);
      let submission = await this.submissions.findByHash(undefined, roomUri, bodySha256);
      // Known bytes were checked against their MLS sender when first admitted; not this sender's.
      if (submission !== undefined && submission.senderUri !== sendingUri) {
        return refuse(`these bytes were submitted by ${submission.senderUri}`);
      }
      if (submission === undefined) {
        try {
          submission = await this.transactions.run((tx) =>
            this.admitSubmission(tx, room, sendingUri, request, bodySha256),
          );
        } catch (e) {
          if (e instanceof ValidationError || e instanceof MlsGroupError || e instanceof GatewayError) {
            if (e instanceof GatewayError && e.code === ErrorCode.Internal) throw e;
            return refuse(errorMessage(e));
          }
          throw e;
        }
      }
      if (submission.status === 'accepted') {
        return { protocol: 'mls10', statusCode: 'accepted', acceptedTimestamp: BigInt(submission.acceptedAt ?? 0) };
      }
      if (submission.status !== 'posting') {
        return refuse(`the platform refused the message (${submission.lastError ?? submission.status})`);
      }
      const accepted = await this.postSubmission(room, submission);
      if (accepted === undefined) return refuse('the platform refused the message');
      return { protocol: 'mls10', statusCode: 'accepted', acceptedTimestamp: BigInt(accepted.acceptedAt ?? 0) };
    });
  }

  /** Decrypt, verify and record a new submission (status `posting`), in `tx` with the bot's ratchet advance. */
  private async admitSubmission(
    tx: Tx,
    room: RoomRecord,
    sendingUri: UserUri,
    request: SubmitMessageRequest,
    bodySha256: string,
  ): Promise<SubmissionRecord> {
    const group = await this.groups.requireGroup(room.roomUri);
    const processed = await group.processMessage(request.appMessage);
    if (processed.kind !== 'application') {
      throw new ValidationError(`expected an application message, got ${processed.kind}`);
    }
    if (processed.sender !== sendingUri) {
      throw new ValidationError(`the MLS sender is ${processed.sender ?? '?'}, not ${sendingUri}`);
    }
    const received = receiveMimiContent(processed.plaintext, { senderUri: sendingUri, roomUri: room.roomUri });
    if (
      getSenderUri(received.content.extensions) === undefined ||
      getRoomUri(received.content.extensions) === undefined
    ) {
      throw new ValidationError('content must name its senderUri and roomUri (protocol-06 §5.4.1)');
    }
    const change = await authoriseMessageChange(received.content, sendingUri, {
      roles: () => this.commits.roles(room.roomUri),
      participants: async () => (await this.commits.botView(room.roomUri)).participants,
      senderOf: async (id) => (await this.events.findByMessageId(tx, room.roomUri, id))?.senderUri,
    });
    if (!change.allowed) throw new ValidationError(change.reason);
    const messageId = toHex(received.messageId);
    const earlier = await this.submissions.findByMessageId(tx, room.roomUri, messageId, 'in');
    const done = earlier.find((s) => s.status === 'accepted');
    if (done !== undefined) return done; // the same message re-encrypted after an epoch change
    const submission = {
      roomUri: room.roomUri,
      bodySha256,
      direction: 'in' as const,
      messageId,
      senderUri: sendingUri,
      appMessage: request.appMessage,
      content: processed.plaintext,
      status: 'posting' as const,
      platformEventId: null,
    };
    await this.submissions.insert(tx, submission);
    return { ...submission, acceptedAt: null, lastError: null, createdAt: this.support.now() };
  }

  /** Post a submission as its sender's ghost, within the bounded wait; complete it on success. */
  private async postSubmission(room: RoomRecord, submission: SubmissionRecord): Promise<SubmissionRecord | undefined> {
    const content = decodeMimiContent(submission.content);
    const sender = await this.support.profiles.remoteUser(
      room.platform,
      submission.senderUri,
      senderProfileOf(content),
    );
    const action: MessageAction | undefined = await actionForContent(content, (id) =>
      this.events.findPlatformEventId(undefined, room.roomUri, room.platform, id),
    );
    if (action === undefined) {
      await this.failSubmission(room, submission, 'refers to a message unknown in the legacy room');
      return undefined;
    }
    try {
      const local = await this.media.localize(room, sender, action);
      const result = await this.support.bridge(room.platform).post(this.support.legacyRoom(room), sender, local, {
        idempotencyKey: `mimi:${submission.messageId}`,
        timeoutMs: this.submitPostTimeoutMs,
      });
      return await this.completeSubmission(room, submission, result.platformEventId, result.acceptedAt);
    } catch (e) {
      if (e instanceof GatewayError && !e.retryable) {
        await this.failSubmission(room, submission, errorMessage(e));
        return undefined;
      }
      const timedOut = e instanceof GatewayError && e.code === ErrorCode.Timeout;
      this.logger.warn(`room=${room.roomUri} message=${submission.messageId}: not posted yet: ${errorMessage(e)}`);
      throw new PlatformError(
        timedOut ? ErrorCode.Timeout : ErrorCode.PlatformUnavailable,
        timedOut
          ? `the legacy platform did not accept message ${submission.messageId} within ${this.submitPostTimeoutMs} ms; retry the same request`
          : `the legacy platform is unavailable (${errorMessage(e)}); retry the same request`,
        { cause: e },
      );
    }
  }

  private async failSubmission(room: RoomRecord, submission: SubmissionRecord, reason: string): Promise<void> {
    await this.transactions.run((tx) =>
      this.submissions.update(
        tx,
        room.roomUri,
        submission.bodySha256,
        { status: 'failed', lastError: reason },
        'posting',
      ),
    );
    this.logger.warn(`room=${room.roomUri} message=${submission.messageId}: submission failed: ${reason}`);
  }

  /**
   * The platform accepted a submitted message: log it with the next sequence number, map the
   * platform event to the message, and fan the ORIGINAL ciphertext out to every follower, the
   * submitter included. Exactly once: only the call that moves the row from `posting` wins.
   */
  private async completeSubmission(
    room: RoomRecord,
    submission: SubmissionRecord,
    platformEventId: string,
    acceptedAt: number,
  ): Promise<SubmissionRecord> {
    return this.transactions.run(async (tx) => {
      const moved = await this.submissions.update(
        tx,
        room.roomUri,
        submission.bodySha256,
        { status: 'accepted', platformEventId, acceptedAt },
        'posting',
      );
      if (!moved) return (await this.submissions.findByHash(tx, room.roomUri, submission.bodySha256)) ?? submission;
      const content = decodeMimiContent(submission.content);
      await this.events.insert(tx, {
        roomUri: room.roomUri,
        seq: await this.rooms.allocateEventSeq(tx, room.roomUri),
        messageId: submission.messageId,
        senderUri: submission.senderUri,
        kind: contentKind(content),
        content: submission.content,
        acceptedAt,
        renderStatus: 'none',
      });
      await this.recordLegacy(tx, room, platformEventId, submission.messageId);
      const destinations = this.support.followerDomains(await this.commits.botView(room.roomUri));
      await this.support.fanout(tx, room.roomUri, [
        { destinations, message: applicationFanout(submission.appMessage, acceptedAt) },
      ]);
      return { ...submission, status: 'accepted', platformEventId, acceptedAt };
    });
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

  // ---- helpers --------------------------------------------------------------------------------

  private async recordOnly(room: RoomRecord, event: InboundEvent): Promise<void> {
    await this.transactions.run((tx) => this.recordLegacy(tx, room, event.platformEventId, null));
  }

  private async recordLegacy(
    tx: Tx,
    room: RoomRecord,
    platformEventId: string,
    messageId: string | null,
  ): Promise<void> {
    await this.events.recordLegacyEvent(tx, {
      platform: room.platform,
      platformEventId,
      roomUri: room.roomUri,
      messageId,
    });
  }
}
