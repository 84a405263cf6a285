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
 */
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError, errorMessage } from '../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf } from '../common/ids';
import { encodeMimiContentWithId, receiveMimiContent, toHex } from '../mimi/content';
import {
  type FanoutMessage,
  type KeyMaterialRequest,
  type KeyMaterialResponse,
  type UpdateRoomResponse,
  decodeFanoutBody,
} from '../mimi/wire';
import {
  BANNED_ROLE_INDEX,
  type ComponentData,
  type GatewayGroup,
  MlsErrorReason,
  MlsGroupError,
  type Participant,
  gatewayKeys,
  groupIdForRoom,
  groupInfoFromBytes,
  inspectMlsMessage,
  participantListFromExtensions,
} from '../mls';
import { InboundDedupeRepository, type Tx } from '../persistence';
import { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import {
  type SubmissionRecord,
  RoomSubmissionRepository,
} from '../persistence/repositories/room-submission.repository';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import {
  type InboundEvent,
  type LegacyUserRef,
  ParticipantRole,
  type RemoteUser,
  canModerate,
  hasMirrorRooms,
  hasPuppetMembership,
  hasRoles,
} from '../ports';
import { contentForAction, contentKind } from './content-mapping';
import { assertFanoutTimestamps } from './fanout-timestamps';
import { DbMlsStorage } from '../persistence/db-mls-storage';
import { FollowerSubmissions } from './follower-submissions';
import { legacyUserUri, parseLegacyUserUri } from './identity';
import { MlsGroups } from './mls-groups';
import { HubRequests } from './hub-requests';
import { KeyMaterials } from './key-materials';
import { RenderWorker } from './render.worker';
import { RoomLocks } from './room-locks';
import { diffParticipants, maySendMessage, participantOf, roleIndexOf, roleOfIndex } from './room-policy';
import { MirrorRoomState } from './room-state/mirror-room-state';
import { rolesOf } from './room-state/room-components';
import { RoomSupport, need, sha256Hex } from './room-support';
import { RoomTransactions } from '../persistence/room-transactions';

const MEMBER_ROLE = roleIndexOf(ParticipantRole.Member);
/** How often our epoch is looked at while waiting for the hub's commits (`waitForEpoch`). */
const EPOCH_POLL_MS = 50;
/** How often an external join is tried with a fresh GroupInfo after `wrongEpoch`. */
const MAX_EXTERNAL_JOIN_ATTEMPTS = 3;

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
    private readonly storage: DbMlsStorage,
    private readonly transactions: RoomTransactions,
    private readonly locks: RoomLocks,
    private readonly dedupe: InboundDedupeRepository,
    private readonly render: RenderWorker,
    private readonly roomState: MirrorRoomState,
    private readonly submitQueue: FollowerSubmissions,
  ) {}

  private get domain(): ProviderDomain {
    return this.support.domain;
  }

  // ---- /notify --------------------------------------------------------------------------------

  /**
   * protocol-06 §5.5 fan-out from the hub. Resolves when the body is processed (or recognised as a
   * duplicate): the endpoint then answers 201.
   * @throws GatewayError Forbidden (the caller is not this room's hub, or we host the room),
   *   NotFound (an unknown room and no Welcome for one of our users), Malformed (bad body),
   *   BadValue (an application message dated in the future, content-08 §9.1: fanout-timestamps.ts).
   */
  async notify(peer: ProviderDomain, roomUri: RoomUri, body: Uint8Array): Promise<void> {
    const messages = decodeFanoutBody(body);
    assertFanoutTimestamps(messages, this.support.now());
    await this.locks.run(roomUri, async () => {
      let room = await this.rooms.findByUri(undefined, roomUri);
      if (room !== undefined && room.role !== 'follower') {
        throw new GatewayError(ErrorCode.Forbidden, `${roomUri} is hosted here; only followers receive /notify`);
      }
      if (room !== undefined && peer !== room.hubDomain) {
        throw new GatewayError(ErrorCode.Forbidden, `${peer} is not the hub of ${roomUri} (${room.hubDomain} is)`);
      }
      if (room === undefined && peer !== domainOf(roomUri)) {
        throw new GatewayError(
          ErrorCode.Forbidden,
          `${peer} cannot create ${roomUri}: a room's hub is its URI's provider`,
        );
      }
      let mirror: { platform: string; roomId: string } | undefined;
      if (room === undefined) {
        const joiner = await this.firstJoiner(messages);
        if (joiner === undefined) throw new GatewayError(ErrorCode.NotFound, `no room ${roomUri} here`);
        const legacy = parseLegacyUserUri(joiner)!;
        const ref = await need(this.support.bridge(legacy.platform), hasMirrorRooms, 'mirror rooms').createMirrorRoom(
          roomUri,
          {},
        );
        mirror = { platform: ref.platform, roomId: ref.roomId };
      }
      // Only handshakes change the participant list; application messages need no before/after view.
      const changesState = messages.some((m) => m.messageKind !== 'application');
      const before =
        room === undefined || !changesState ? [] : ((await this.support.groupView(roomUri))?.participants ?? []);
      const metadataBefore = room === undefined || !changesState ? undefined : await this.roomState.metadata(roomUri);
      const processed = await this.transactions.run(async (tx) => {
        if (!(await this.dedupe.recordIfNew(tx, { sourceDomain: peer, roomUri, endpoint: 'notify', body }))) {
          return false;
        }
        if (room === undefined && mirror !== undefined) {
          await this.rooms.insert(tx, {
            roomUri,
            role: 'follower',
            hubDomain: peer,
            platform: mirror.platform,
            legacyRoomId: mirror.roomId,
          });
          room = (await this.rooms.findByUri(tx, roomUri))!;
          this.logger.log(`following ${roomUri} (hub ${peer}), mirrored in ${mirror.platform} room ${mirror.roomId}`);
        }
        for (const message of messages) await this.applyFanout(tx, room!, message);
        tx.afterCommit(() => this.render.kick(roomUri));
        return true;
      });
      if (!processed) {
        this.logger.debug(`notify room=${roomUri} from=${peer}: duplicate body, already processed`);
        return;
      }
      if (!changesState) return;
      await this.roomState.mirror(room!, metadataBefore, await this.roomState.metadata(roomUri));
      const after = (await this.support.groupView(roomUri))?.participants;
      if (after !== undefined) await this.renderMembership(room!, before, after);
    });
  }

  private async applyFanout(tx: Tx, room: RoomRecord, m: FanoutMessage): Promise<void> {
    switch (m.messageKind) {
      case 'welcome':
        return this.applyWelcome(tx, room, m);
      case 'commit':
      case 'proposal':
        try {
          await this.support.processHandshake(tx, room.roomUri, m.message);
        } catch (e) {
          this.logger.error(`room=${room.roomUri}: cannot process a ${m.messageKind}: ${errorMessage(e)}`);
        }
        return;
      case 'application':
        return this.applyApplication(tx, room, m);
    }
  }

  private async applyWelcome(
    tx: Tx,
    room: RoomRecord,
    m: Extract<FanoutMessage, { messageKind: 'welcome' }>,
  ): Promise<void> {
    const joiner = await this.joinerOf(m.message);
    if (joiner === undefined) {
      this.logger.debug(`room=${room.roomUri}: a Welcome for none of our users`);
      return;
    }
    const tree = m.ratchetTreeOption.representation === 'full' ? m.ratchetTreeOption.ratchetTree : undefined;
    await this.groups.store.joinFromWelcome(joiner, m.message, tree);
    await this.rooms.addLocalMember(tx, room.roomUri, joiner);
    this.logger.log(`room=${room.roomUri}: ${joiner} joined by Welcome`);
  }

  private async applyApplication(
    tx: Tx,
    room: RoomRecord,
    m: Extract<FanoutMessage, { messageKind: 'application' }>,
  ): Promise<void> {
    const acceptedAt = Number(m.timestamp);
    let plaintext: Uint8Array | undefined;
    let sender: UserUri | undefined;
    const group = await this.groups.group(room.roomUri);
    if (group !== undefined && this.groups.summaryOf(group).localMembers.length > 0) {
      let result;
      try {
        result = await group.processMessage(m.message);
      } catch (e) {
        this.logger.error(`room=${room.roomUri}: cannot decrypt a message: ${errorMessage(e)}`);
        return;
      }
      if (result.kind === 'application') {
        plaintext = result.plaintext;
        sender = result.sender;
      }
      // 'echo': one of our members sent it; the submission record has it.
    }
    if (plaintext === undefined || sender === undefined || this.support.isOurs(sender)) {
      const own =
        plaintext === undefined ? await this.submissions.findByHash(tx, room.roomUri, sha256Hex(m.message)) : undefined;
      return this.confirmOwn(tx, room, own, plaintext, sender, acceptedAt);
    }
    let received;
    try {
      received = receiveMimiContent(plaintext, { senderUri: sender, roomUri: room.roomUri });
    } catch (e) {
      // content-08 §9.1: logged and discarded.
      this.logger.warn(`room=${room.roomUri} sender=${sender}: message discarded: ${errorMessage(e)}`);
      return;
    }
    const stored = await this.events.insert(tx, {
      roomUri: room.roomUri,
      seq: await this.rooms.allocateEventSeq(tx, room.roomUri),
      messageId: toHex(received.messageId),
      senderUri: sender,
      kind: contentKind(received.content),
      content: plaintext,
      acceptedAt,
      renderStatus: 'pending',
    });
    if (!stored) this.logger.debug(`room=${room.roomUri}: message ${toHex(received.messageId)} seen before`);
  }

  /** One of our own users' messages came back from the hub: it is confirmed, and already shown locally. */
  private async confirmOwn(
    tx: Tx,
    room: RoomRecord,
    byHash: SubmissionRecord | undefined,
    plaintext: Uint8Array | undefined,
    sender: UserUri | undefined,
    acceptedAt: number,
  ): Promise<void> {
    let submission = byHash;
    let content = plaintext ?? byHash?.content;
    let senderUri = sender ?? byHash?.senderUri;
    if (content === undefined || senderUri === undefined) {
      this.logger.warn(`room=${room.roomUri}: an own message came back that we have no record of`);
      return;
    }
    const received = receiveMimiContent(content, { senderUri, roomUri: room.roomUri });
    const messageId = toHex(received.messageId);
    submission ??= (await this.submissions.findByMessageId(tx, room.roomUri, messageId, 'out'))[0];
    if (submission !== undefined) {
      await this.submissions.update(tx, room.roomUri, submission.bodySha256, { status: 'confirmed', acceptedAt });
      content = submission.content;
      senderUri = submission.senderUri;
    }
    await this.events.insert(tx, {
      roomUri: room.roomUri,
      seq: await this.rooms.allocateEventSeq(tx, room.roomUri),
      messageId,
      senderUri,
      kind: contentKind(received.content),
      content,
      acceptedAt,
      // Our user's original post is the local copy; a message of ours sent from elsewhere is shown.
      renderStatus: submission === undefined ? 'pending' : 'none',
    });
  }

  /** Show participant changes in the mirror room: ghosts join, leave and get roles; our users removed are kicked. */
  private async renderMembership(
    room: RoomRecord,
    before: readonly Participant[],
    after: readonly Participant[],
  ): Promise<void> {
    const diff = diffParticipants(before, after);
    if (diff.added.length + diff.removed.length + diff.roleChanges.length === 0) return;
    const bridge = this.support.bridge(room.platform);
    const legacyRoom = this.support.legacyRoom(room);
    const attempt = async (what: string, f: () => Promise<void>): Promise<void> => {
      try {
        await f();
      } catch (e) {
        this.logger.warn(`room=${room.roomUri}: ${what}: ${errorMessage(e)}`);
      }
    };
    for (const p of diff.added) {
      if (this.support.isOurs(p.user)) continue;
      await attempt(`ghost join of ${p.user}`, async () =>
        need(bridge, hasPuppetMembership, 'puppet membership').setMembership(
          legacyRoom,
          await this.support.profiles.remoteUser(room.platform, p.user),
          'join',
        ),
      );
      if (p.roleIndex !== MEMBER_ROLE) {
        await attempt(`role of ${p.user}`, () =>
          need(bridge, hasRoles, 'roles').setRole(legacyRoom, { userUri: p.user }, roleOfIndex(p.roleIndex)),
        );
      }
    }
    for (const p of diff.removed) {
      const native = this.support.nativeUser(p.user);
      if (native) {
        await attempt(`kick of ${p.user}`, () =>
          need(bridge, canModerate, 'moderation').moderate(legacyRoom, native, 'kick'),
        );
      } else {
        await attempt(`ghost leave of ${p.user}`, () =>
          need(bridge, hasPuppetMembership, 'puppet membership').setMembership(
            legacyRoom,
            { userUri: p.user },
            'leave',
          ),
        );
      }
    }
    for (const c of diff.roleChanges) {
      const target: LegacyUserRef | RemoteUser = this.support.nativeUser(c.user) ?? { userUri: c.user };
      if (c.to === BANNED_ROLE_INDEX) {
        await attempt(`ban of ${c.user}`, () =>
          need(bridge, canModerate, 'moderation').moderate(legacyRoom, target, 'ban'),
        );
      } else {
        await attempt(`role of ${c.user}`, () =>
          need(bridge, hasRoles, 'roles').setRole(legacyRoom, target, roleOfIndex(c.to)),
        );
      }
    }
  }

  /** Which of our users a Welcome (MLSMessage bytes) is for: the owner of a KeyPackage it names. */
  private async joinerOf(welcome: Uint8Array): Promise<UserUri | undefined> {
    const refs = inspectMlsMessage(welcome).keyPackageRefs ?? [];
    if (refs.length === 0) return undefined;
    const prefix = 'mls2/kp/';
    const keys = await this.storage.list(prefix);
    for (const ref of refs) {
      const suffix = `/${Buffer.from(ref).toString('base64url')}`;
      const key = keys.find((k) => k.endsWith(suffix));
      if (key === undefined) continue;
      const user = decodeURIComponent(key.slice(prefix.length, key.length - suffix.length)) as UserUri;
      if (gatewayKeys.keyPackage(user, ref) === key) return user;
    }
    return undefined;
  }

  private async firstJoiner(messages: readonly FanoutMessage[]): Promise<UserUri | undefined> {
    for (const m of messages) {
      if (m.messageKind !== 'welcome') continue;
      const user = await this.joinerOf(m.message);
      if (user !== undefined && parseLegacyUserUri(user) !== undefined) return user;
    }
    return undefined;
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
      await this.support.tellUser(
        room,
        event.platformEventId,
        'You are not a participant of this MIMI room (or may not post); your message was not sent.',
      );
      await this.recordOnly(room, event.platformEventId);
      return;
    }
    await this.transactions.run(async (tx) => {
      const content = await contentForAction(event.action, {
        senderUri: user,
        roomUri: room.roomUri,
        platformEventId: event.platformEventId,
        scopeDomain: this.domain,
        timestamp: event.timestamp,
        senderProfile: sender,
        messageIdOf: async (pe) => (await this.events.findLegacyEvent(tx, room.platform, pe))?.messageId ?? undefined,
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
      case 'kick':
        if (ghost && by === undefined) return; // a ghost leaving on its own is our render coming back
        await this.requestListChange(
          room,
          event.platformEventId,
          retry,
          by ?? user,
          (list) => list.filter((p) => p.user !== user),
          user,
        );
        return;
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
    if (committer === undefined) return this.externalJoin(room, platformEventId, user);
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
  private async externalJoin(room: RoomRecord, platformEventId: string, user: UserUri): Promise<void> {
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
        await this.renderMembership(room, [], joined.group.summary().participants);
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

  /** A participant-list change made locally, committed by `committerUser`'s client and sent to the hub. */
  private async requestListChange(
    room: RoomRecord,
    platformEventId: string,
    retry: boolean,
    committerUser: UserUri,
    change: (list: readonly Participant[]) => Participant[],
    removeClientsOf?: UserUri,
    appData: readonly ComponentData[] = [],
  ): Promise<void> {
    const group = await this.activeClient(room, committerUser);
    if (group === undefined) {
      this.logger.debug(`room=${room.roomUri}: ${committerUser} has no client in the group; change not sent`);
      return;
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
    }
  }

  /**
   * Stage a commit of `committer` (participant list `change`, plus Adds), send it to the hub with
   * `/update` (protocol-06 §5.3) and merge it on `success`, drop it otherwise.
   */
  private async requestChange(
    room: RoomRecord,
    group: GatewayGroup,
    committer: UserUri,
    change: (list: readonly Participant[]) => Participant[],
    more: { addLocal?: readonly UserUri[]; remove?: readonly number[]; appData?: readonly ComponentData[] } = {},
  ): Promise<UpdateRoomResponse> {
    const current = group.summary().participants;
    const next = change(current);
    const listChanged = diffParticipants(current, next);
    const participants =
      listChanged.added.length + listChanged.removed.length + listChanged.roleChanges.length > 0 ? next : undefined;
    const addLocal = more.addLocal ?? [];
    const remove = more.remove ?? [];
    const appData = more.appData ?? [];
    if (participants === undefined && addLocal.length === 0 && remove.length === 0 && appData.length === 0) {
      return { responseCode: 'success', errorDescription: '', acceptedTimestamp: 0n };
    }
    const staged = await group.stageCommit(committer, {
      ...(participants ? { participants } : {}),
      addLocal,
      remove,
      appData,
    });
    let response: UpdateRoomResponse;
    try {
      // Our own joiners are in the shared group state already: their Welcome stays here.
      response = await this.hubRequests.sendUpdate(room, {
        commit: staged.commit,
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

  private async tellUser(room: RoomRecord, platformEventId: string, text: string): Promise<void> {
    try {
      await this.support.bridge(room.platform).notifyFailure(this.support.legacyRoom(room), { platformEventId }, text);
    } catch (e) {
      this.logger.warn(`room=${room.roomUri}: notifyFailure: ${errorMessage(e)}`);
    }
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
