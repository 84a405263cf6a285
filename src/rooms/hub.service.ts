/**
 * The hub role (protocol-06 §3, §5; ARCHITECTURE §2 flows 1, 3, 4): for rooms linked to a legacy
 * room of ours, the legacy room is the source of truth and this gateway orders, authorises and
 * fans out. Servers cannot commit (protocol-06 §7.3), so every room change here is a commit of the
 * gateway bot's member client, which the hub then accepts at once; legacy users speak through
 * their own puppet clients, so followers see each of them as a distinct MLS member.
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
  asCredential,
  asGroupInfo,
  decodeAll,
  encodeValue,
  groupInfoRatchetTreeTbeCodec,
  groupInfoRequestTbs,
  groupInfoRequestTbsCodec,
  groupInfoResponseTbsCodec,
  keyMaterialRequestCodec,
  keyMaterialResponseCodec,
} from '../mimi/wire';
import {
  BANNED_ROLE_INDEX,
  EpochVerdict,
  type CommitPreview,
  type GatewayChanges,
  type GatewayGroupSummary,
  type GatewayStagedCommit,
  MlsGroupError,
  type Participant,
  checkEpoch,
  groupIdForRoom,
  inspectMlsMessage,
  keyPackageUser,
  verifyWithLabel,
  encryptWithLabel,
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
  type JoinRule,
  type LegacyUserRef,
  type MessageAction,
  ParticipantRole,
  type RemoteUser,
  type Moderation,
  type PuppetMembership,
  canModerate,
  hasJoinRules,
  hasPuppetMembership,
  hasRoles,
} from '../ports';
import { actionForContent, contentForAction, contentKind } from './content-mapping';
import { gatewayBotUri, legacyUserUri } from './identity';
import { MlsGroups } from './mls-groups';
import { RoomLocks } from './room-locks';
import {
  authoriseChange,
  diffParticipants,
  maySendMessage,
  participantOf,
  roleIndexOf,
  roleOfIndex,
} from './room-policy';
import { type FanoutItem, RoomSupport, need, sha256Hex } from './room-support';
import { RoomTransactions } from '../persistence/room-transactions';
import {
  DEFAULT_SUBMIT_POST_TIMEOUT_MS,
  MIMI_REQUESTER,
  type MimiRequester,
  ROOMS_OPTIONS,
  type RoomsOptions,
} from './rooms.tokens';
import {
  applicationFanout,
  basicCredentialBytes,
  basicCredentialIdentity,
  commitFanout,
  credentialDomain,
  GROUP_INFO_LABEL,
  hubKeyMaterialRequest,
  welcomeFanout,
} from './wire-support';

const MEMBER_ROLE = roleIndexOf(ParticipantRole.Member);
const OWNER_ROLE = roleIndexOf(ParticipantRole.Owner);

type LegacyEvent<K extends InboundEvent['kind']> = Extract<InboundEvent, { kind: K }>;

/** What a follower's commit does, as MLS verified it (`GatewayGroup.previewCommit`). */
interface VerifiedCommit {
  /** The committing user (for an external commit: the joiner). */
  readonly committer: UserUri;
  /** An external commit (RFC 9420 §12.4.3.2). */
  readonly external: boolean;
  readonly before: readonly Participant[];
  readonly after: readonly Participant[];
  /** Users of the clients the commit adds (the joiner's for an external commit). */
  readonly addedClients: readonly UserUri[];
  /** Users of the clients the commit removes. */
  readonly removedClients: readonly UserUri[];
}

@Injectable()
export class HubService {
  private readonly logger = new Logger(HubService.name);
  private readonly submitPostTimeoutMs: number;

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly submissions: RoomSubmissionRepository,
    private readonly groups: MlsGroups,
    private readonly transactions: RoomTransactions,
    private readonly locks: RoomLocks,
    @Inject(MIMI_REQUESTER) private readonly requester: MimiRequester,
    @Inject(ROOMS_OPTIONS) options: RoomsOptions,
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
    await this.locks.run(roomUri, () =>
      this.transactions.run(async (tx) => {
        await this.groups.store.createGroup({
          groupId: groupIdForRoom(roomUri),
          creator: bot,
          hub: hub.externalSender,
          participants,
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

  /** An event of a linked legacy room (caller holds the room lock). Idempotent on its platform event ID. */
  async onLegacyEvent(room: RoomRecord, event: InboundEvent): Promise<void> {
    if (await this.events.findLegacyEvent(undefined, event.room.platform, event.platformEventId)) return;
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
        // room_metadata (protocol-06 §7.6) is not carried yet (README.md "Not done").
        return this.recordOnly(room, event);
    }
  }

  private async onNativeMessage(room: RoomRecord, event: LegacyEvent<'message'>, sender: LegacyUserRef): Promise<void> {
    const user = legacyUserUri(this.domain, sender.platform, sender.userId);
    const view = await this.botView(room.roomUri);
    if (participantOf(view.participants, user)?.roleIndex === BANNED_ROLE_INDEX) {
      this.logger.warn(`room=${room.roomUri} event=${event.platformEventId}: ${user} is banned; not sent`);
      return this.recordOnly(room, event);
    }
    await this.ensureActiveMember(room, user, view);
    await this.transactions.run(async (tx) => {
      const content = await contentForAction(event.action, {
        senderUri: user,
        roomUri: room.roomUri,
        platformEventId: event.platformEventId,
        scopeDomain: this.domain,
        timestamp: event.timestamp,
        messageIdOf: async (pe) => (await this.events.findLegacyEvent(tx, room.platform, pe))?.messageId ?? undefined,
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
    const pending = await this.submissions.oldestWithStatus(undefined, room.roomUri, sender.userUri, 'in', 'posting');
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
    const view = await this.botView(room.roomUri);
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
      await this.commitByBot(tx, room, { participants: next });
      await this.recordLegacy(tx, room, event.platformEventId, null);
    });
  }

  /**
   * A native user invited a remote MIMI user (a ghost): fetch key material from the user's
   * provider (protocol-06 §5.2, via us as the hub), then the bot commits the participant-list
   * change together with the Adds (§5.3) and the Welcome goes to that provider (§5.5).
   */
  private async addRemoteUser(room: RoomRecord, event: LegacyEvent<'membership'>, target: UserUri): Promise<void> {
    const view = await this.botView(room.roomUri);
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
    const answer = await this.requester.request(
      targetDomain,
      'keyMaterial',
      target,
      encodeValue(request, keyMaterialRequestCodec),
    );
    if (answer.status >= 500 || answer.status === 429) {
      // Let the platform redeliver the invite later.
      throw new GatewayError(ErrorCode.PeerUnavailable, `keyMaterial for ${target}: HTTP ${answer.status}`, {
        retryable: true,
      });
    }
    const keyPackages: Uint8Array[] = [];
    if (answer.status >= 200 && answer.status < 300) {
      const response = decodeAll(answer.body, keyMaterialResponseCodec);
      if (response.userStatus === 'success' || response.userStatus === 'partialSuccess') {
        for (const c of response.clients) {
          if (c.clientStatus !== 'success') continue;
          const user = keyPackageUser(c.keyPackage);
          if (user !== target) {
            this.logger.warn(`room=${room.roomUri}: ${targetDomain} sent a KeyPackage of ${user ?? '?'} for ${target}`);
            continue;
          }
          keyPackages.push(c.keyPackage);
        }
      } else {
        this.logger.warn(`room=${room.roomUri}: keyMaterial for ${target}: ${response.userStatus}`);
      }
    } else {
      this.logger.warn(`room=${room.roomUri}: keyMaterial for ${target}: HTTP ${answer.status}`);
    }
    if (keyPackages.length === 0) {
      await this.support.tellUser(
        room,
        event.platformEventId,
        `${target} cannot be added: its provider gave no key material`,
      );
      return this.recordOnly(room, event);
    }
    await this.transactions.run(async (tx) => {
      const fresh = await this.botView(room.roomUri);
      const participants = participantOf(fresh.participants, target)
        ? undefined
        : [...fresh.participants, { user: target, roleIndex: MEMBER_ROLE }];
      await this.commitByBot(tx, room, { add: keyPackages, ...(participants ? { participants } : {}) });
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
    const view = await this.botView(room.roomUri);
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
    const view = await this.botView(room.roomUri);
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
    await this.commitByBot(tx, room, { remove: leaves, ...(next ? { participants: next } : {}) });
    if (leaves.length > 0) await this.rooms.removeLocalMember(tx, room.roomUri, user);
  }

  private async unban(room: RoomRecord, event: InboundEvent, user: UserUri): Promise<void> {
    const view = await this.botView(room.roomUri);
    if (participantOf(view.participants, user)?.roleIndex !== BANNED_ROLE_INDEX) return this.recordOnly(room, event);
    await this.transactions.run(async (tx) => {
      await this.commitByBot(tx, room, { participants: view.participants.filter((p) => p.user !== user) });
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
      await this.commitByBot(tx, room, { addLocal: [user], ...(participants ? { participants } : {}) });
      await this.rooms.addLocalMember(tx, room.roomUri, user);
    });
  }

  /**
   * The bot commits `changes` (accepted at once: we are the hub) for all our members at once
   * (one shared group state); the commit goes to every follower that had clients before it (so
   * removed ones learn of it, protocol-06 §5.5) and the Welcome to the providers of remote joiners.
   */
  private async commitByBot(tx: Tx, room: RoomRecord, changes: GatewayChanges): Promise<GatewayStagedCommit> {
    const group = await this.groups.requireGroup(room.roomUri);
    const before = group.summary();
    const staged = await group.commit(this.groups.botUser, changes);
    const now = this.support.now();
    const items: FanoutItem[] = [
      { destinations: this.support.followerDomains(before), message: commitFanout(staged, now) },
    ];
    const joinerDomains = new Set<ProviderDomain>();
    for (const kp of changes.add ?? []) {
      const d = domainOf(keyPackageUser(kp) ?? '');
      if (d !== undefined && d !== this.domain) joinerDomains.add(d);
    }
    if (staged.welcome !== undefined && joinerDomains.size > 0) {
      items.push({ destinations: [...joinerDomains], message: welcomeFanout(staged.welcome, staged.ratchetTree, now) });
    }
    await this.support.fanout(tx, room.roomUri, items);
    return staged;
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
      const room = await this.hubRoom(roomUri);
      const sendingUri = request.sendingUri as UserUri;
      const refuse = (reason: string): SubmitMessageResponse => {
        this.logger.debug(`submitMessage room=${roomUri} from=${peer} sender=${sendingUri}: notAllowed: ${reason}`);
        return { protocol: 'mls10', statusCode: 'notAllowed' };
      };
      if (domainOf(sendingUri) !== peer) return refuse(`${peer} may not send for ${sendingUri}`);
      const view = await this.botView(roomUri);
      const may = maySendMessage(view.participants, sendingUri);
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
    const action: MessageAction | undefined = await actionForContent(content, (id) =>
      this.events.findPlatformEventId(undefined, room.roomUri, room.platform, id),
    );
    if (action === undefined) {
      await this.failSubmission(room, submission, 'refers to a message unknown in the legacy room');
      return undefined;
    }
    try {
      const result = await this.support
        .bridge(room.platform)
        .post(this.support.legacyRoom(room), { userUri: submission.senderUri }, action, {
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
      const destinations = this.support.followerDomains(await this.botView(room.roomUri));
      await this.support.fanout(tx, room.roomUri, [
        { destinations, message: applicationFanout(submission.appMessage, acceptedAt) },
      ]);
      return { ...submission, status: 'accepted', platformEventId, acceptedAt };
    });
  }

  // ---- flow 4 from followers: /update ---------------------------------------------------------

  /**
   * protocol-06 §5.3 for a follower's commit, in this order (issue 9: nothing happens on the
   * platform for a commit MLS refuses):
   * 1. current epoch (else `wrongEpoch`);
   * 2. MLS verification on the current state, nothing applied (`GatewayGroup.previewCommit`): signature,
   *    membership tag, proposals, path, confirmation tag, and the hub's commit policy
   *    (`hub-commit-policy.ts`: only participant-list AppDataUpdates the room policy allows, no
   *    GroupContextExtensions or other extension change) — else `notAllowed`;
   * 3. the room policy for the calling provider (`authoriseChange`, or `authoriseExternalJoin`);
   * 4. the change on the legacy side (ghost joins/leaves, kicks, roles); a refusal → `notAllowed`;
   * 5. the bot applies the commit for all our members, it is fanned out (the Welcome to the
   *    joiners' provider); users who left the list while keeping clients (a leave: a committer
   *    cannot remove its own leaf) lose them in a follow-up commit of the bot.
   */
  async update(peer: ProviderDomain, roomUri: RoomUri, request: UpdateRequest): Promise<UpdateRoomResponse> {
    return this.locks.run(roomUri, async () => {
      const room = await this.hubRoom(roomUri);
      const bundle = request.bundle;
      const refuse = (reason: string): UpdateRoomResponse => {
        this.logger.debug(`update room=${roomUri} from=${peer}: notAllowed: ${reason}`);
        return { responseCode: 'notAllowed', errorDescription: reason };
      };
      if (bundle.contentType !== 'commit') {
        return refuse('proposals are not accepted; send a commit (see the hub documentation)');
      }
      const group = await this.groups.requireGroup(roomUri);
      const view = group.summary();
      let header;
      try {
        header = inspectMlsMessage(bundle.proposalOrCommit);
      } catch (e) {
        return refuse(errorMessage(e));
      }
      const check = checkEpoch(header, { groupId: groupIdForRoom(roomUri), epoch: view.epoch });
      if (check.verdict === EpochVerdict.WrongEpoch) {
        return { responseCode: 'wrongEpoch', errorDescription: check.reason, currentEpoch: check.currentEpoch };
      }
      if (check.verdict !== EpochVerdict.Ok) return refuse(check.reason);
      let preview: CommitPreview;
      try {
        preview = await group.previewCommit(bundle.proposalOrCommit);
      } catch (e) {
        return refuse(`invalid commit: ${errorMessage(e)}`);
      }
      if (preview.verdict === 'wrongEpoch') {
        return {
          responseCode: 'wrongEpoch',
          errorDescription: preview.reason ?? '',
          currentEpoch: preview.currentEpoch,
        };
      }
      if (preview.verdict !== 'ok' || preview.committer === undefined) {
        return refuse(`invalid commit: ${preview.reason ?? 'the committer has no MIMI user credential'}`);
      }
      const verified: VerifiedCommit = {
        committer: preview.committer,
        external: preview.external === true,
        before: preview.participantsBefore,
        after: preview.participantsAfter ?? preview.participantsBefore,
        addedClients: preview.addedUsers ?? [],
        removedClients: preview.removedUsers ?? [],
      };
      const decision = verified.external
        ? await this.authoriseExternalJoin(room, peer, verified, view)
        : authoriseChange({
            peerDomain: peer,
            committer: verified.committer,
            before: verified.before,
            after: verified.after,
            addedClients: verified.addedClients,
            removedClients: verified.removedClients,
          });
      if (!decision.allowed) return refuse(decision.reason);
      const diff = diffParticipants(verified.before, verified.after);
      try {
        await this.applyOnLegacySide(room, diff, verified.committer);
      } catch (e) {
        return refuse(`the legacy room refused the change: ${errorMessage(e)}`);
      }
      const acceptedAt = this.support.now();
      await this.transactions.run(async (tx) => {
        const processed = await this.support.processHandshake(tx, roomUri, bundle.proposalOrCommit);
        if (processed?.kind !== 'commit') throw new GatewayError(ErrorCode.Internal, 'a verified commit did not apply');
        const items: FanoutItem[] = [
          {
            destinations: this.support.followerDomains(view),
            message: commitFanout({ commit: bundle.proposalOrCommit }, acceptedAt),
          },
        ];
        if (bundle.welcome !== undefined) {
          const tree =
            bundle.ratchetTreeOption.representation === 'full'
              ? bundle.ratchetTreeOption.ratchetTree
              : (await group.groupInfo(this.groups.botUser)).ratchetTree;
          const joinerDomains = [...new Set(verified.addedClients.map((u) => domainOf(u)!))];
          items.push({ destinations: joinerDomains, message: welcomeFanout(bundle.welcome, tree, acceptedAt) });
        }
        await this.support.fanout(tx, roomUri, items);
      });
      // Participants the follower took off the list (or banned) must not keep clients (protocol-06 §5.3).
      const current = await this.botView(roomUri);
      const leaves = current.members
        .filter((m) => {
          if (m.user === undefined || m.user === this.groups.botUser) return false;
          const p = participantOf(current.participants, m.user);
          return p === undefined || p.roleIndex === BANNED_ROLE_INDEX;
        })
        .map((m) => m.leafIndex);
      if (leaves.length > 0) await this.transactions.run((tx) => this.commitByBot(tx, room, { remove: leaves }));
      this.logger.log(
        verified.external
          ? `room=${roomUri}: ${verified.committer} (${peer}) joined by external commit`
          : `room=${roomUri}: applied a commit of ${verified.committer} (${peer})`,
      );
      return { responseCode: 'success', errorDescription: '', acceptedTimestamp: BigInt(acceptedAt) };
    });
  }

  /**
   * Who may join by external commit (protocol-06 §5.6 "a new device of an existing participant;
   * open rooms"): a user of the calling provider who is a participant that is not banned (a new
   * or resynchronised client), or anybody not banned when the legacy room is public. The commit
   * may remove only the joiner's own old clients, and change the list only by adding the joiner
   * as member (its own AppDataUpdate, protocol-06 §5.3); a joiner who is not yet a participant
   * must add itself that way.
   */
  private async authoriseExternalJoin(
    room: RoomRecord,
    peer: ProviderDomain,
    commit: VerifiedCommit,
    view: GatewayGroupSummary,
  ): Promise<{ allowed: true } | { allowed: false; reason: string }> {
    const joiner = commit.committer;
    if (domainOf(joiner) !== peer) return { allowed: false, reason: `${joiner} is not a user of ${peer}` };
    if (commit.removedClients.some((u) => u !== joiner)) {
      return { allowed: false, reason: 'an external joiner may only remove its own old client' };
    }
    const diff = diffParticipants(commit.before, commit.after);
    const onlyJoiner =
      diff.removed.length === 0 &&
      diff.roleChanges.length === 0 &&
      diff.added.every((p) => p.user === joiner && p.roleIndex <= MEMBER_ROLE);
    if (!onlyJoiner) return { allowed: false, reason: 'an external commit may only add the joiner as member' };
    const entry = participantOf(view.participants, joiner);
    if (entry?.roleIndex === BANNED_ROLE_INDEX) return { allowed: false, reason: `${joiner} is banned` };
    if (entry === undefined && participantOf(commit.after, joiner) === undefined) {
      return { allowed: false, reason: `${joiner} joins without its participant entry` };
    }
    if (entry !== undefined) return { allowed: true };
    if ((await this.joinRuleOf(room)) !== 'public') {
      return { allowed: false, reason: `${room.roomUri} is not open: ${joiner} needs an invitation` };
    }
    return { allowed: true };
  }

  /** The legacy room's join rule; `invite` when the bridge cannot tell. */
  private async joinRuleOf(room: RoomRecord): Promise<JoinRule> {
    const bridge = this.support.bridge(room.platform);
    if (!hasJoinRules(bridge)) return 'invite';
    try {
      return await bridge.joinRule(this.support.legacyRoom(room));
    } catch (e) {
      this.logger.warn(`room=${room.roomUri}: join rule unknown (${errorMessage(e)}); treated as invite-only`);
      return 'invite';
    }
  }

  /**
   * Carry a follower's participant change out in the legacy room (ARCHITECTURE §2 flow 4). A
   * participant who leaves on their own makes their ghost leave; one removed or banned by somebody
   * else is kicked or banned by the bridge's bot, with the MIMI user who did it as the reason (a
   * bridge that cannot kick the ghost makes it leave instead).
   */
  private async applyOnLegacySide(
    room: RoomRecord,
    diff: ReturnType<typeof diffParticipants>,
    committer: UserUri,
  ): Promise<void> {
    const bridge = this.support.bridge(room.platform);
    const membership = (): PuppetMembership => need(bridge, hasPuppetMembership, 'puppet membership');
    const moderation = (): Moderation => need(bridge, canModerate, 'moderation');
    const legacyRoom = this.support.legacyRoom(room);
    const reason = `by ${committer} (MIMI)`;
    for (const p of diff.added) {
      if (!this.support.isOurs(p.user)) await membership().setMembership(legacyRoom, { userUri: p.user }, 'join');
    }
    for (const p of diff.removed) {
      const native = this.support.nativeUser(p.user);
      if (native) {
        await moderation().moderate(legacyRoom, native, p.roleIndex === BANNED_ROLE_INDEX ? 'unban' : 'kick', reason);
      } else if (this.support.isOurs(p.user)) {
        continue;
      } else if (p.roleIndex === BANNED_ROLE_INDEX) {
        await moderation().moderate(legacyRoom, { userUri: p.user }, 'unban', reason);
      } else if (p.user === committer) {
        await membership().setMembership(legacyRoom, { userUri: p.user }, 'leave');
      } else {
        await Promise.resolve()
          .then(() => moderation().moderate(legacyRoom, { userUri: p.user }, 'kick', reason))
          .catch(async (e: unknown) => {
            this.logger.warn(`room=${room.roomUri}: kick of ${p.user}: ${errorMessage(e)}; its ghost leaves instead`);
            await membership().setMembership(legacyRoom, { userUri: p.user }, 'leave');
          });
      }
    }
    for (const c of diff.roleChanges) {
      const target: LegacyUserRef | RemoteUser = this.support.nativeUser(c.user) ?? { userUri: c.user };
      if (c.to === BANNED_ROLE_INDEX) await moderation().moderate(legacyRoom, target, 'ban', reason);
      else await need(bridge, hasRoles, 'roles').setRole(legacyRoom, target, roleOfIndex(c.to));
    }
  }

  // ---- /groupInfo -----------------------------------------------------------------------------

  /**
   * protocol-06 §5.6 for a participant of the calling provider (a new device, or a client that
   * lost its state): a fresh GroupInfo and the ratchet tree from the bot, HPKE-encrypted to the
   * requester's key, signed with the hub's external-sender key. Pending proposals: none (the hub
   * commits at once).
   */
  async groupInfo(peer: ProviderDomain, roomUri: RoomUri, request: GroupInfoRequest): Promise<GroupInfoResponse> {
    return this.locks.run(roomUri, async () => {
      const room = await this.rooms.findByUri(undefined, roomUri);
      if (room?.role !== 'hub') return { protocol: 'mls10', roomId: roomUri, status: 'noSuchRoom' };
      const denied: GroupInfoResponse = { protocol: 'mls10', roomId: roomUri, status: 'notAuthorized' };
      const signed = verifyWithLabel(
        request.requestingSignatureKey,
        'GroupInfoRequestTBS',
        encodeValue(groupInfoRequestTbs(request), groupInfoRequestTbsCodec),
        request.signature,
      );
      const identity = basicCredentialIdentity(request.requestingCredential);
      if (!signed || identity === undefined || credentialDomain(identity) !== peer) return denied;
      const view = await this.botView(roomUri);
      const p = participantOf(view.participants, identity);
      if (p?.roleIndex === BANNED_ROLE_INDEX) return denied;
      if (p === undefined && (await this.joinRuleOf(room)) !== 'public') return denied;
      const bundle = await (await this.groups.requireGroup(roomUri)).groupInfo(this.groups.botUser);
      const tbe = encodeValue(
        {
          groupInfo: asGroupInfo(bundle.groupInfo),
          ratchetTreeOption: { representation: 'full', ratchetTree: bundle.ratchetTree },
          pendingProposals: [],
        },
        groupInfoRatchetTreeTbeCodec,
      );
      const sealed = encryptWithLabel(
        request.groupInfoPublicKey,
        GROUP_INFO_LABEL,
        new TextEncoder().encode(roomUri),
        tbe,
      );
      const hub = await this.groups.hub();
      const body = {
        cipherSuite: request.cipherSuite,
        hubSender: {
          signatureKey: hub.signaturePublicKey,
          credential: asCredential(basicCredentialBytes(`mimi://${hub.domain}`)),
        },
        encryptedGroupInfoAndTree: sealed,
      };
      const tbs = encodeValue(
        { protocol: 'mls10', roomId: roomUri, status: 'success', ...body },
        groupInfoResponseTbsCodec,
      );
      return {
        protocol: 'mls10',
        roomId: roomUri,
        status: 'success',
        ...body,
        signature: hub.signWithLabel('GroupInfoResponseTBS', tbs),
      };
    });
  }

  // ---- helpers --------------------------------------------------------------------------------

  private async hubRoom(roomUri: RoomUri): Promise<RoomRecord> {
    const room = await this.rooms.findByUri(undefined, roomUri);
    if (room?.role !== 'hub') throw new GatewayError(ErrorCode.NotFound, `${roomUri} is not hosted here`);
    return room;
  }

  private async botView(roomUri: RoomUri): Promise<GatewayGroupSummary> {
    return (await this.groups.requireGroup(roomUri)).summary();
  }

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
