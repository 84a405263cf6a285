/**
 * XmppBridge: the PlatformBridge port (src/ports) for XMPP multi-user chats. A façade: the parts
 * (built in xmpp-bridge.parts.ts) do the work; each port member goes to the one that does it
 * (README.md has the map).
 *
 *   session/   the stream, IQ request/response, deadlines        mode/      component vs relay
 *   muc/       being in rooms, nicks, admin, mirrors, room info   outbound/  posting, reflections
 *   inbound/   messages, presences, archive replay → the sink    content/   XMPP ↔ MIMI content
 *   protocol/  stanza builders/parsers, JIDs                      state/     journal, room runtime
 */
import { Logger } from '@nestjs/common';
import { ErrorCode, errorMessage, PlatformError } from '../../src/common/errors';
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import type {
  BridgeHost,
  InboundSink,
  JoinRule,
  LegacyRoomRef,
  LegacyUserRef,
  MediaBytes,
  MediaTransfer,
  MediaUpload,
  MessageAction,
  ParticipantRole,
  PlatformBridge,
  PlatformMessageRef,
  PostOptions,
  RemoteUser,
  RoomSnapshot,
  UserLookup,
} from '../../src/ports';
import type { EchoKeyedPostResult } from '../kit/echo-keys';
import { roomRef } from './muc/rooms';
import { bare } from './protocol/jids';
import type { XmppTransport } from './session/xmpp-transport';
import { BridgeState, MemoryStateStore, type StateStore } from './state/bridge-state';
import { DbStateStore } from './state/db-state-store';
import type { XmppBridgeOptions } from './xmpp-bridge.options';
import { buildXmppParts, type XmppParts } from './xmpp-bridge.parts';

export class XmppBridge implements PlatformBridge, MediaTransfer {
  readonly platform = Platform.Xmpp;
  private readonly logger = new Logger(XmppBridge.name);
  /** The stream (an end-to-end test reaches for it). */
  private readonly transport: XmppTransport;
  private readonly parts: XmppParts;
  private host?: BridgeHost;

  constructor(private readonly options: XmppBridgeOptions) {
    this.transport = options.transport;
    this.parts = buildXmppParts(options);
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Connect, join every linked MUC and replay what was missed; then link the configured MUCs. */
  async start(sink: InboundSink, host?: BridgeHost): Promise<void> {
    if (this.parts.session.started) throw new Error('XmppBridge already started');
    this.parts.delivery.open(sink);
    this.host = host;
    this.parts.commands.setHost(host);
    this.parts.session.stopping = false;
    const state = new BridgeState(await this.stateStore(host), (e) =>
      this.logger.error(`writing the XMPP bridge state failed: ${errorMessage(e)}`),
    );
    this.parts.rooms.open(state, this.options.links ?? []);
    this.parts.session.started = true;
    try {
      await this.parts.session.open({
        message: (el) => this.parts.messages.handle(el),
        presence: (el) => this.parts.presence.handle(el),
        occupancyLost: () => this.parts.occupancy.occupancyLost(),
        rejoin: () => this.parts.sync.syncAll(),
        offline: (error) => this.parts.occupancy.failJoins(error),
      });
    } catch (e) {
      this.parts.session.started = false;
      throw e;
    }
    for (const jid of this.options.links ?? []) {
      const room = roomRef(bare(jid));
      try {
        await this.host?.link(room, {
          platform: Platform.Xmpp,
          userId: this.parts.mode.botBareJid(),
          displayName: 'configuration',
        });
      } catch (e) {
        this.logger.error(`linking ${room.roomId} from the configuration failed: ${errorMessage(e)}`);
      }
    }
    this.parts.sync.startSelfPing();
  }

  /** The store of the durable state: the options' own, else the core's database, else memory. */
  private async stateStore(host: BridgeHost | undefined): Promise<StateStore> {
    if (this.options.stateStore) return this.options.stateStore;
    const db = host?.stateStore?.(Platform.Xmpp);
    if (db) return DbStateStore.open(db, this.options.journalFile);
    this.logger.warn('no state store: the XMPP bridge state is kept in memory only');
    return new MemoryStateStore();
  }

  /** Leave the MUCs, stop the stream; pending posts reject with PlatformUnavailable. */
  async stop(): Promise<void> {
    if (!this.parts.session.started) return;
    this.parts.session.stopping = true;
    this.parts.sync.stopSelfPing();
    this.parts.session.clearTimers();
    const unavailable = new PlatformError(ErrorCode.PlatformUnavailable, 'XMPP bridge stopped');
    this.parts.posts.rejectAll(unavailable);
    this.parts.session.failPending(unavailable);
    if (this.parts.session.isOnline) await this.parts.occupancy.leaveAll(this.parts.members);
    await this.parts.delivery.drain();
    await this.parts.rooms.flush();
    await this.parts.session.close();
    this.parts.rooms.clear();
    this.parts.session.started = false;
  }

  // -------------------------------------------------------------------------------------------
  // The port, member by member

  /** A groupchat message; resolves when the MUC reflects it (outbound/posting.ts). */
  post(room: LegacyRoomRef, as: RemoteUser, action: MessageAction, opts: PostOptions): Promise<EchoKeyedPostResult> {
    return this.parts.poster.post(room, as, action, opts);
  }

  /** Puppet presence to room/nick (component mode); nothing in relay mode. */
  async setMembership(room: LegacyRoomRef, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    await this.parts.members.setMembership(this.parts.rooms.linked(room), user, membership);
  }

  moderate(
    room: LegacyRoomRef,
    target: LegacyUserRef | RemoteUser,
    action: 'kick' | 'ban' | 'unban',
    reason?: string,
  ): Promise<void> {
    return this.parts.admin.moderate(room, target, action, reason);
  }

  setRole(room: LegacyRoomRef, user: LegacyUserRef | RemoteUser, role: ParticipantRole): Promise<void> {
    return this.parts.admin.setRole(room, user, role);
  }

  /**
   * Component mode: puppets whose display name changed take the new nick in every room; an
   * avatar's bytes become the puppet's vCard photo (media/vcard-avatars.ts).
   */
  async setProfile(user: RemoteUser, avatar?: MediaBytes): Promise<void> {
    if (avatar !== undefined) await this.parts.members.setAvatar(user, avatar);
    await this.parts.members.setDisplayName(user);
  }

  joinRule(room: LegacyRoomRef): Promise<JoinRule> {
    return this.parts.roomInfo.joinRule(room);
  }

  getRoomSnapshot(room: LegacyRoomRef): Promise<RoomSnapshot> {
    return this.parts.admin.snapshot(room);
  }

  notifyFailure(room: LegacyRoomRef, about: PlatformMessageRef, humanMessage: string): Promise<void> {
    return this.parts.poster.notifyFailure(room, about, humanMessage);
  }

  isOwnUser(userId: string): boolean {
    return this.parts.mode.isOwnUser(userId, this.parts.rooms.botOccupants());
  }

  /** An XMPP user of the served domains by JID or `xmpp:` URI (muc/invitations.ts). */
  lookupUser(search: { readonly type: 'handle' | 'nick'; readonly value: string }): Promise<UserLookup> {
    return this.parts.invitations.lookup(search);
  }

  /** An XEP-0249 direct invitation from the bot to a (mirror) MUC. */
  inviteUser(room: LegacyRoomRef, user: LegacyUserRef, opts: { readonly reason?: string }): Promise<void> {
    return this.parts.invitations.invite(room, user, opts);
  }

  createMirrorRoom(roomUri: RoomUri, opts: { name?: string } = {}): Promise<LegacyRoomRef> {
    return this.parts.mirrors.create(roomUri, opts);
  }

  /**
   * Whether `url` is a download URL of the XEP-0363 upload service (media/http-upload.ts) or an
   * occupant's avatar this bridge reported (media/vcard-avatars.ts).
   */
  holdsMedia(url: string): boolean {
    return this.parts.upload?.isOwnUrl(url) === true || this.parts.avatars.isAvatarUrl(url);
  }

  downloadMedia(url: string, maxBytes: number): Promise<MediaBytes> {
    if (this.parts.avatars.isAvatarUrl(url)) return this.parts.avatars.download(url, maxBytes);
    return this.uploadService().download(url, maxBytes);
  }

  /** XEP-0363 upload as the puppet of `as` (component mode) or the relay account. */
  uploadMedia(_room: LegacyRoomRef, as: RemoteUser, file: MediaUpload): Promise<string> {
    return this.uploadService().upload(this.parts.mode.postSender(as).from, file);
  }

  private uploadService(): NonNullable<XmppParts['upload']> {
    const upload = this.parts.upload;
    if (upload === undefined) {
      throw new PlatformError(ErrorCode.PlatformRejected, 'no XMPP upload service configured (xmpp.httpUpload)', {
        retryable: false,
      });
    }
    return upload;
  }

  // -------------------------------------------------------------------------------------------
  // Introspection (tests, admin)

  /** The MUCs the bridge keeps joined (linked by config, by use, or as mirrors). */
  linkedRooms(): LegacyRoomRef[] {
    return this.parts.rooms.jids().map(roomRef);
  }

  /** The nick a MIMI user's puppet has in `room` (component mode), once joined. */
  puppetNick(room: LegacyRoomRef, userUri: UserUri): string | undefined {
    return this.parts.rooms.get(bare(room.roomId))?.puppets.get(userUri)?.nick;
  }

  /** The bridge bot's nick in `room`, once joined. */
  botNickIn(room: LegacyRoomRef): string | undefined {
    return this.parts.rooms.get(bare(room.roomId))?.botNick;
  }
}
