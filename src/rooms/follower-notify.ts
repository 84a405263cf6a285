/**
 * The follower's `/notify` apply path (protocol-06 §5.5): the hub's fan-out for a MIMI room we
 * follow. Accepted only from the room's hub; byte-identical bodies are processed once; an unknown
 * room is created (with its mirror room) when a Welcome names one of our users. Commits are
 * processed by all our member clients of the room, application messages by one, and stored in
 * arrival (= hub) order for the RenderWorker; our own messages coming back confirm their
 * submission. Participant changes are shown in the mirror room (`renderMembership`).
 */
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError, errorMessage } from '../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf } from '../common/ids';
import { receiveMimiContent, toHex } from '../mimi/content';
import { type FanoutMessage, decodeFanoutBody } from '../mimi/wire';
import { BANNED_ROLE_INDEX, type Participant, gatewayKeys, inspectMlsMessage } from '../mls';
import { InboundDedupeRepository, type Tx } from '../persistence';
import { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import {
  type SubmissionRecord,
  RoomSubmissionRepository,
} from '../persistence/repositories/room-submission.repository';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import {
  type LegacyUserRef,
  ParticipantRole,
  type RemoteUser,
  canModerate,
  hasMirrorRooms,
  hasPuppetMembership,
  hasRoles,
} from '../ports';
import { contentKind } from './content-mapping';
import { FollowerUnlinked } from './follower/follower-unlinked';
import { assertFanoutTimestamps } from './fanout-timestamps';
import { DbMlsStorage } from '../persistence/db-mls-storage';
import { parseLegacyUserUri } from './identity';
import { inviteToMirror } from './local-invitations';
import { MlsGroups } from './mls-groups';
import { RenderWorker } from './render.worker';
import { RoomLocks } from './room-locks';
import { diffParticipants, roleIndexOf, roleOfIndex } from './room-policy';
import { MirrorRoomState } from './room-state/mirror-room-state';
import { RoomSupport, need, sha256Hex } from './room-support';
import { RoomTransactions } from '../persistence/room-transactions';

const MEMBER_ROLE = roleIndexOf(ParticipantRole.Member);

@Injectable()
export class FollowerNotify {
  private readonly logger = new Logger(FollowerNotify.name);

  constructor(
    private readonly locks: RoomLocks,
    private readonly dedupe: InboundDedupeRepository,
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly submissions: RoomSubmissionRepository,
    private readonly transactions: RoomTransactions,
    private readonly support: RoomSupport,
    private readonly groups: MlsGroups,
    private readonly storage: DbMlsStorage,
    private readonly roomState: MirrorRoomState,
    private readonly render: RenderWorker,
    private readonly unlinked: FollowerUnlinked,
  ) {}

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
      // No group any more: the commit removed our last client (our users were removed from the room,
      // e.g. kicked from another provider's side), so they leave the mirror room too.
      const after =
        (await this.support.groupView(roomUri))?.participants ?? before.filter((p) => !this.support.isOurs(p.user));
      await this.renderMembership(room!, before, after);
    });
  }

  private async applyFanout(tx: Tx, room: RoomRecord, m: FanoutMessage): Promise<void> {
    switch (m.messageKind) {
      case 'welcome':
        return this.applyWelcome(tx, room, m);
      case 'commit':
      case 'proposal':
        try {
          const processed = await this.support.processHandshake(tx, room.roomUri, m.message);
          // The hub's unlink commit (issue 10 item 6): follower/follower-unlinked.ts.
          if (m.messageKind === 'commit') await this.unlinked.onCommit(tx, room, m.message, processed);
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
    tx.afterCommit(() => void inviteToMirror(this.support, room, joiner, this.logger));
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
        // Our own message, sent before a restart: the group no longer remembers sending it (and
        // cannot decrypt it, its key is used up), but the submission record has it.
        const own = await this.submissions.findByHash(tx, room.roomUri, sha256Hex(m.message));
        if (own !== undefined) return this.confirmOwn(tx, room, own, undefined, undefined, acceptedAt);
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
  async renderMembership(
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
}
