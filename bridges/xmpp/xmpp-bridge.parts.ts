/**
 * Builds the parts of the XMPP bridge from its options and connects them: what XmppBridge (the
 * façade) delegates to. Dependencies point down the folders (session ← mode ← muc ← outbound ←
 * inbound); the few calls that go back up (the bot's join finishing with the archive replay, the
 * rejoin resending posts) are callbacks given here.
 */
import { Logger } from '@nestjs/common';
import { XmppCommands } from './inbound/commands';
import { CoreDelivery } from './inbound/core-delivery';
import { GroupchatHandler } from './inbound/groupchat';
import { MamCatchUp } from './inbound/mam-catch-up';
import { MembershipEvents } from './inbound/membership-events';
import { MessageRouter } from './inbound/messages';
import { PresenceHandler } from './inbound/presence';
import { ComponentMode } from './mode/component.mode';
import { RelayMode } from './mode/relay.mode';
import type { XmppMode } from './mode/xmpp-mode';
import { MentionDirectory } from './muc/mention-directory';
import type { MimiOccupants } from './muc/mimi-occupants';
import { MirrorRooms } from './muc/mirror-rooms';
import { XmppInvitations, defaultUserDomains } from './muc/invitations';
import { MucAdmin } from './muc/muc-admin';
import { MucOccupancy } from './muc/occupancy';
import { OccupantIdentity } from './muc/occupant-identity';
import { PuppetOccupants } from './muc/puppet-occupants';
import { RelayOccupant } from './muc/relay-occupant';
import { RoomInfo } from './muc/room-info';
import { RoomSync } from './muc/room-sync';
import { MucRooms } from './muc/rooms';
import { MessageModeration } from './outbound/moderation';
import { PendingPosts } from './outbound/pending-posts';
import { PostBuilder } from './outbound/post-builder';
import { Poster } from './outbound/posting';
import { XmppSession } from './session/xmpp-session';
import { isAllowedAttachmentUrl } from './content/message-mapping';
import { XmppHttpUpload } from './media/http-upload';
import { VcardAvatars } from './media/vcard-avatars';
import { XMPP_BRIDGE_DEFAULTS, type XmppBridgeOptions } from './xmpp-bridge.options';

export interface XmppParts {
  readonly mode: XmppMode;
  readonly session: XmppSession;
  readonly rooms: MucRooms;
  readonly roomInfo: RoomInfo;
  readonly occupancy: MucOccupancy;
  /** How MIMI users are present in the rooms (per mode). */
  readonly members: MimiOccupants;
  readonly admin: MucAdmin;
  readonly mirrors: MirrorRooms;
  readonly sync: RoomSync;
  readonly poster: Poster;
  readonly posts: PendingPosts;
  readonly delivery: CoreDelivery;
  readonly presence: PresenceHandler;
  readonly messages: MessageRouter;
  /** The XEP-0363 upload service, when configured (attachments both ways). */
  readonly upload?: XmppHttpUpload;
  /** Avatars by vCard (XEP-0054/XEP-0153), both ways. */
  readonly avatars: VcardAvatars;
  /** `!mimi invite` in a linked MUC (inbound/commands.ts). */
  readonly commands: XmppCommands;
  /** Users by address and XEP-0249 invitations (muc/invitations.ts). */
  readonly invitations: XmppInvitations;
}

/** @throws Error when component mode has no componentDomain */
export function buildXmppParts(options: XmppBridgeOptions): XmppParts {
  const d = XMPP_BRIDGE_DEFAULTS;
  const joinTimeoutMs = options.joinTimeoutMs ?? d.joinTimeoutMs;
  const attachmentHosts = options.attachmentHosts ?? [];
  const mode =
    options.mode === 'component' ? new ComponentMode(options.componentDomain) : new RelayMode(options.transport);
  const session = new XmppSession(options.transport, {
    connectTimeoutMs: options.connectTimeoutMs ?? d.connectTimeoutMs,
    iqTimeoutMs: options.iqTimeoutMs ?? d.iqTimeoutMs,
    discoCategory: mode.discoCategory,
  });
  const iq = session.iq;
  const upload = options.httpUpload && new XmppHttpUpload((el) => iq.request(el), options.httpUpload);
  const isAllowedUrl = (url: string): boolean =>
    isAllowedAttachmentUrl(url, attachmentHosts) || upload?.isOwnUrl(url) === true;
  const avatars = new VcardAvatars(
    (el) => iq.request(el),
    () => mode.botFrom(),
  );
  const puppets = mode.puppets;
  if (puppets) session.addIqResponder((el) => avatars.answer(el, (jid) => puppets.userOf(jid)?.userUri !== undefined));
  const rooms = new MucRooms(session);
  const identity = new OccupantIdentity(mode);
  const mentions = new MentionDirectory(identity, options.nativeUsers);
  const roomInfo = new RoomInfo(iq, mode);
  const delivery = new CoreDelivery(session, {
    sinkRetryAttempts: options.sinkRetryAttempts ?? d.sinkRetryAttempts,
    sinkRetryInitialMs: options.sinkRetryInitialMs ?? d.sinkRetryInitialMs,
  });
  const events = new MembershipEvents(rooms, identity, delivery);
  // The inbound side finishes each join of the bot (hooks); it is built below, once the MUC
  // and outbound parts it uses exist.
  const occupancy = new MucOccupancy(
    session,
    mode,
    rooms,
    roomInfo,
    { botNick: options.botNick, joinTimeoutMs },
    {
      joined: (r) => events.reportOccupantDiff(r),
      catchUp: (r) => mam.catchUp(r),
      release: (r) => messages.releaseBuffered(r),
    },
  );
  // How MIMI users are present: puppets where the mode can address them, else the relay account.
  const members = mode.puppets
    ? new PuppetOccupants(session, rooms, occupancy, mode.puppets, joinTimeoutMs, avatars)
    : new RelayOccupant(occupancy);
  const posts = new PendingPosts(session, rooms, members, joinTimeoutMs);
  const sync = new RoomSync(
    session,
    mode,
    rooms,
    occupancy,
    members,
    { joinTimeoutMs, selfPingIntervalMs: options.selfPingIntervalMs ?? d.selfPingIntervalMs },
    (r) => posts.resendUnreflected(r),
  );
  const admin = new MucAdmin(iq, mode, rooms, occupancy, identity, roomInfo, joinTimeoutMs);
  const mirrors = new MirrorRooms(rooms, occupancy, roomInfo, {
    mucService: options.mucService,
    joinTimeoutMs,
  });
  const poster = new Poster(
    session,
    mode,
    rooms,
    occupancy,
    members,
    posts,
    new PostBuilder(mode, rooms, isAllowedUrl, mentions),
    new MessageModeration(iq, mode),
    { maxStanzaBytes: options.maxStanzaBytes ?? mode.defaultMaxStanzaBytes, joinTimeoutMs },
  );
  const commands = new XmppCommands(poster, new Logger('XmppCommands'));
  const groupchat = new GroupchatHandler(mode, rooms, identity, posts, delivery, isAllowedUrl, mentions, commands);
  const invitations = new XmppInvitations(
    mode,
    (el) => session.send(el),
    options.userDomains ?? defaultUserDomains(options.mucService, options.componentDomain),
  );
  const mam = new MamCatchUp(iq, mode, rooms, roomInfo, (r, el, archived) => groupchat.handle(r, el, archived));
  const presence = new PresenceHandler(session, mode, rooms, occupancy, members, identity, sync, events, joinTimeoutMs);
  const messages = new MessageRouter(session, mode, rooms, identity, posts, mam, groupchat, delivery);
  return {
    mode,
    session,
    rooms,
    roomInfo,
    occupancy,
    members,
    admin,
    mirrors,
    sync,
    poster,
    posts,
    delivery,
    presence,
    messages,
    ...(upload ? { upload } : {}),
    avatars,
    commands,
    invitations,
  };
}
