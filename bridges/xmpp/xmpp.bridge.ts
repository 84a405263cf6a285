/**
 * XmppBridge: the PlatformBridge port (src/ports) for XMPP multi-user chats. A façade: it builds
 * the parts below and hands each port member to the one that does it (README.md has the map).
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
  MessageAction,
  ParticipantRole,
  PlatformBridge,
  PlatformMessageRef,
  PostOptions,
  PostResult,
  RemoteUser,
  RoomSnapshot,
} from '../../src/ports';
import { CoreDelivery } from './inbound/core-delivery';
import { GroupchatHandler } from './inbound/groupchat';
import { MamCatchUp } from './inbound/mam-catch-up';
import { MembershipEvents } from './inbound/membership-events';
import { MessageRouter } from './inbound/messages';
import { PresenceHandler } from './inbound/presence';
import { ComponentMode } from './mode/component.mode';
import { RelayMode } from './mode/relay.mode';
import type { XmppMode } from './mode/xmpp-mode';
import { MirrorRooms } from './muc/mirror-rooms';
import { MucAdmin } from './muc/muc-admin';
import type { MimiOccupants } from './muc/mimi-occupants';
import { MucOccupancy } from './muc/occupancy';
import { OccupantIdentity } from './muc/occupant-identity';
import { PuppetOccupants } from './muc/puppet-occupants';
import { RelayOccupant } from './muc/relay-occupant';
import { RoomInfo } from './muc/room-info';
import { RoomSync } from './muc/room-sync';
import { MucRooms, roomRef } from './muc/rooms';
import { PendingPosts } from './outbound/pending-posts';
import { PostBuilder } from './outbound/post-builder';
import { Poster } from './outbound/posting';
import { bare } from './protocol/jids';
import { XmppSession } from './session/xmpp-session';
import type { XmppTransport } from './session/xmpp-transport';
import { BridgeState } from './state/bridge-state';
import { XMPP_BRIDGE_DEFAULTS, type XmppBridgeOptions } from './xmpp-bridge.options';

export class XmppBridge implements PlatformBridge {
  readonly platform = Platform.Xmpp;
  private readonly logger = new Logger(XmppBridge.name);
  private readonly transport: XmppTransport;
  private readonly mode: XmppMode;
  private readonly session: XmppSession;
  private readonly rooms: MucRooms;
  private readonly roomInfo: RoomInfo;
  private readonly occupancy: MucOccupancy;
  private readonly members: MimiOccupants;
  private readonly admin: MucAdmin;
  private readonly mirrors: MirrorRooms;
  private readonly sync: RoomSync;
  private readonly poster: Poster;
  private readonly posts: PendingPosts;
  private readonly delivery: CoreDelivery;
  private readonly presence: PresenceHandler;
  private readonly messages: MessageRouter;
  private host?: BridgeHost;

  constructor(private readonly options: XmppBridgeOptions) {
    const d = XMPP_BRIDGE_DEFAULTS;
    const joinTimeoutMs = options.joinTimeoutMs ?? d.joinTimeoutMs;
    const attachmentHosts = options.attachmentHosts ?? [];
    this.transport = options.transport;
    this.mode =
      options.mode === 'component' ? new ComponentMode(options.componentDomain) : new RelayMode(options.transport);
    this.session = new XmppSession(this.transport, {
      connectTimeoutMs: options.connectTimeoutMs ?? d.connectTimeoutMs,
      iqTimeoutMs: options.iqTimeoutMs ?? d.iqTimeoutMs,
      discoCategory: this.mode.discoCategory,
    });
    const iq = this.session.iq;
    this.rooms = new MucRooms(this.session);
    const identity = new OccupantIdentity(this.mode);
    this.roomInfo = new RoomInfo(iq, this.mode);
    this.delivery = new CoreDelivery(this.session, {
      sinkRetryAttempts: options.sinkRetryAttempts ?? d.sinkRetryAttempts,
      sinkRetryInitialMs: options.sinkRetryInitialMs ?? d.sinkRetryInitialMs,
    });
    const events = new MembershipEvents(this.rooms, identity, this.delivery);
    // The inbound side finishes each join of the bot (hooks); it is built below, once the MUC
    // and outbound parts it uses exist.
    this.occupancy = new MucOccupancy(
      this.session,
      this.mode,
      this.rooms,
      this.roomInfo,
      { botNick: options.botNick, joinTimeoutMs },
      {
        joined: (r) => events.reportOccupantDiff(r),
        catchUp: (r) => mam.catchUp(r),
        release: (r) => this.messages.releaseBuffered(r),
      },
    );
    // How MIMI users are present: puppets where the mode can address them, else the relay account.
    this.members = this.mode.puppets
      ? new PuppetOccupants(this.session, this.rooms, this.occupancy, this.mode.puppets, joinTimeoutMs)
      : new RelayOccupant(this.occupancy);
    this.posts = new PendingPosts(this.session, this.rooms, this.members, joinTimeoutMs);
    this.sync = new RoomSync(
      this.session,
      this.mode,
      this.rooms,
      this.occupancy,
      this.members,
      { joinTimeoutMs, selfPingIntervalMs: options.selfPingIntervalMs ?? d.selfPingIntervalMs },
      (r) => this.posts.resendUnreflected(r),
    );
    this.admin = new MucAdmin(iq, this.mode, this.rooms, this.occupancy, identity, this.roomInfo, joinTimeoutMs);
    this.mirrors = new MirrorRooms(this.rooms, this.occupancy, this.roomInfo, {
      mucService: options.mucService,
      joinTimeoutMs,
    });
    this.poster = new Poster(
      this.session,
      this.mode,
      this.rooms,
      this.occupancy,
      this.members,
      this.posts,
      new PostBuilder(this.mode, this.rooms, attachmentHosts),
      { maxStanzaBytes: options.maxStanzaBytes ?? this.mode.defaultMaxStanzaBytes, joinTimeoutMs },
    );
    const groupchat = new GroupchatHandler(this.mode, this.rooms, identity, this.posts, this.delivery, attachmentHosts);
    const mam = new MamCatchUp(iq, this.mode, this.rooms, this.roomInfo, (r, el, archived) =>
      groupchat.handle(r, el, archived),
    );
    this.presence = new PresenceHandler(
      this.session,
      this.mode,
      this.rooms,
      this.occupancy,
      this.members,
      identity,
      this.sync,
      events,
      joinTimeoutMs,
    );
    this.messages = new MessageRouter(
      this.session,
      this.mode,
      this.rooms,
      identity,
      this.posts,
      mam,
      groupchat,
      this.delivery,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Connect, join every linked MUC and replay what was missed; then link the configured MUCs. */
  async start(sink: InboundSink, host?: BridgeHost): Promise<void> {
    if (this.session.started) throw new Error('XmppBridge already started');
    this.delivery.open(sink);
    this.host = host;
    this.session.stopping = false;
    const state = new BridgeState(this.options.stateStore, (e) =>
      this.logger.error(`writing the XMPP bridge state failed: ${errorMessage(e)}`),
    );
    this.rooms.open(state, this.options.links ?? []);
    this.session.started = true;
    try {
      await this.session.open({
        message: (el) => this.messages.handle(el),
        presence: (el) => this.presence.handle(el),
        occupancyLost: () => this.occupancy.occupancyLost(),
        rejoin: () => this.sync.syncAll(),
        offline: (error) => this.occupancy.failJoins(error),
      });
    } catch (e) {
      this.session.started = false;
      throw e;
    }
    for (const jid of this.options.links ?? []) {
      const room = roomRef(bare(jid));
      try {
        await this.host?.link(room, {
          platform: Platform.Xmpp,
          userId: this.mode.botBareJid(),
          displayName: 'configuration',
        });
      } catch (e) {
        this.logger.error(`linking ${room.roomId} from the configuration failed: ${errorMessage(e)}`);
      }
    }
    this.sync.startSelfPing();
  }

  /** Leave the MUCs, stop the stream; pending posts reject with PlatformUnavailable. */
  async stop(): Promise<void> {
    if (!this.session.started) return;
    this.session.stopping = true;
    this.sync.stopSelfPing();
    this.session.clearTimers();
    const unavailable = new PlatformError(ErrorCode.PlatformUnavailable, 'XMPP bridge stopped');
    this.posts.rejectAll(unavailable);
    this.session.failPending(unavailable);
    if (this.session.isOnline) await this.occupancy.leaveAll(this.members);
    await Promise.allSettled([...this.rooms.values()].map((r) => r.queue));
    this.rooms.flush();
    await this.session.close();
    this.rooms.clear();
    this.session.started = false;
  }

  // -------------------------------------------------------------------------------------------
  // The port, member by member

  /** A groupchat message; resolves when the MUC reflects it (outbound/posting.ts). */
  post(room: LegacyRoomRef, as: RemoteUser, action: MessageAction, opts: PostOptions): Promise<PostResult> {
    return this.poster.post(room, as, action, opts);
  }

  /** Puppet presence to room/nick (component mode); nothing in relay mode. */
  async setMembership(room: LegacyRoomRef, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    await this.members.setMembership(this.rooms.linked(room), user, membership);
  }

  moderate(
    room: LegacyRoomRef,
    target: LegacyUserRef | RemoteUser,
    action: 'kick' | 'ban' | 'unban',
    reason?: string,
  ): Promise<void> {
    return this.admin.moderate(room, target, action, reason);
  }

  setRole(room: LegacyRoomRef, user: LegacyUserRef | RemoteUser, role: ParticipantRole): Promise<void> {
    return this.admin.setRole(room, user, role);
  }

  /** Component mode: puppets whose display name changed take the new nick in every room. */
  setProfile(user: RemoteUser): Promise<void> {
    return this.members.setDisplayName(user);
  }

  joinRule(room: LegacyRoomRef): Promise<JoinRule> {
    return this.roomInfo.joinRule(room);
  }

  getRoomSnapshot(room: LegacyRoomRef): Promise<RoomSnapshot> {
    return this.admin.snapshot(room);
  }

  notifyFailure(room: LegacyRoomRef, about: PlatformMessageRef, humanMessage: string): Promise<void> {
    return this.poster.notifyFailure(room, about, humanMessage);
  }

  isOwnUser(userId: string): boolean {
    return this.mode.isOwnUser(userId, this.rooms.botOccupants());
  }

  createMirrorRoom(roomUri: RoomUri, opts: { name?: string } = {}): Promise<LegacyRoomRef> {
    return this.mirrors.create(roomUri, opts);
  }

  // -------------------------------------------------------------------------------------------
  // Introspection (tests, admin)

  /** The MUCs the bridge keeps joined (linked by config, by use, or as mirrors). */
  linkedRooms(): LegacyRoomRef[] {
    return this.rooms.jids().map(roomRef);
  }

  /** The nick a MIMI user's puppet has in `room` (component mode), once joined. */
  puppetNick(room: LegacyRoomRef, userUri: UserUri): string | undefined {
    return this.rooms.get(bare(room.roomId))?.puppets.get(userUri)?.nick;
  }

  /** The bridge bot's nick in `room`, once joined. */
  botNickIn(room: LegacyRoomRef): string | undefined {
    return this.rooms.get(bare(room.roomId))?.botNick;
  }
}
