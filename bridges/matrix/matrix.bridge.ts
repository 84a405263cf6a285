import { Logger } from '@nestjs/common';
import { type Bridge, type Intent, MembershipCache } from 'matrix-appservice-bridge';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { Platform, type RoomUri } from '../../src/common/ids';
import type { MatrixConfig } from './matrix.config';
import {
  type BridgeHost,
  type InboundSink,
  type JoinRule,
  type AbuseReportNotice,
  type LegacyRoomRef,
  type LegacyUserRef,
  type MessageAction,
  ParticipantRole,
  type PlatformBridge,
  type HealthReporting,
  type PlatformHealth,
  type PuppetMembership,
  type Moderation,
  type Roles,
  type MirrorRooms,
  type JoinRules,
  type MediaBytes,
  type MediaTransfer,
  type MediaUpload,
  type RoomDetails,
  type PlatformMessageRef,
  type PostOptions,
  type RemoteUser,
  type RoomSnapshot,
  type UserDirectory,
  type UserLookup,
  type Invitations,
} from '../../src/ports';
import { AppserviceServer, type TransactionOutcome } from './appservice-server';
import { type MentionResolver } from './html-markdown';
import { type MapperContext, mxidOf } from './matrix-event.mapper';
import { BoundedMap } from '../kit/bounded-map';
import type { EchoKeyedPostResult } from '../kit/echo-keys';
import { MatrixIds, mxcOfDownloadUrl } from './matrix-ids';
import { HomeserverPing } from './homeserver-ping';
import { homeserverGuard, txnIdFor } from './matrix-errors';
import { RoomStateReader } from './room-state-reader';
import { BridgeCommands } from './bridge-commands';
import { TransactionProcessor } from './transaction-processor';
import { MatrixMedia } from './media/matrix-media';
import { MatrixUsers } from './matrix-users';
import { RoomUpgrades } from './room-upgrade';
import { closeMatrixMirror } from './mirror-closing';
import { GhostMembership, type Ghost } from './ghost-membership';
import { RoomAdmin } from './room-admin';
import { InboundEvents } from './inbound-events';
import { OutboundPosts } from './outbound-posts';
import { PortalQueries } from './portal-queries';
import { type MatrixRegistration, startSdkBridge } from './sdk-bridge';

/**
 * The Matrix side of the gateway: an application service (Matrix AS API v1.15) built on
 * matrix-appservice-bridge 10.3.3 for ghosts (`Intent`) and registration handling, with its own
 * homeserver-facing HTTP server (appservice-server.ts) so that a transaction is acknowledged
 * only after its events were durably recorded by the core.
 *
 * Port member → Matrix (required members and the capabilities of src/ports/capabilities.port.ts):
 * - start        : Bridge.initialise (no stores: durability is the core's; sdk-bridge.ts), listen for
 *                  transactions (each event: inbound-events.ts; user/alias queries: portal-queries.ts)
 * - post         : PUT /rooms/{id}/send/{type}/{txnId} as the ghost (txnId from the idempotency
 *                  key; a retry after an unknown outcome looks for the event first: sent-events.ts);
 *                  delete/unreact = redaction (outbound-posts.ts)
 * - setMembership: ghost joins (invited by the bot first when the room is invite-only) / leaves
 *                  (ghost-membership.ts)
 * - moderate     : the bot kicks / bans / unbans
 * - setRole      : the bot edits m.room.power_levels (Banned = ban) (room-admin.ts, as moderate,
 *                  setRoomDetails, reportAbuse and createMirrorRoom)
 * - setProfile   : ghost display name and avatar, globally and in each room's member event
 *                  (ghost-profile.ts); an avatar's bytes are uploaded as the ghost
 * - getRoomSnapshot: the bot reads the room state
 * - notifyFailure: the bot replies to the event with an m.notice
 * - isOwnUser    : the bot and the ghost namespace (bridge-internal; not on the port)
 * - downloadMedia / uploadMedia (MediaTransfer): the media repository (media/matrix-media.ts)
 * - reportAbuse  : a notice mentioning the moderators + the homeserver's report API (abuse-report.ts)
 * - closeMirrorRoom: the bot says why (unlinked at the hub) and lets only itself post (mirror-closing.ts)
 * - createMirrorRoom (follower mode): the bot creates a room with the portal alias
 */

export interface MatrixBridgeOptions {
  readonly matrix: Pick<
    MatrixConfig,
    'homeserverUrl' | 'domain' | 'appserviceHost' | 'appservicePort' | 'prefix' | 'botLocalpart' | 'linkPowerLevel'
  >;
  readonly registration: MatrixRegistration;
  /** Native Matrix users ↔ their MIMI user URIs (mentions). Ghosts are handled by the bridge. */
  readonly mentions?: MentionResolver;
  /** Bind address of the appservice listener (default matrix.appserviceHost). */
  readonly listenHost?: string;
  /** Port of the appservice listener (default matrix.appservicePort; 0 picks a free one). */
  readonly listenPort?: number;
  /**
   * How many times one event may fail with a retryable sink error while other events of its
   * transaction were recorded, before it is dead-lettered (logged and skipped). Default 3.
   */
  readonly maxPoisonAttempts?: number;
  /** Log level of matrix-appservice-bridge / the bot SDK. Default warn. */
  readonly sdkLogLevel?: 'error' | 'warn' | 'info' | 'debug';
}

/** Entries each in-memory record keeps (bridges/kit/bounded-map.ts). */
const BOUNDED = 10_000;

export class MatrixBridge
  implements
    PlatformBridge,
    PuppetMembership,
    Moderation,
    Roles,
    MirrorRooms,
    JoinRules,
    HealthReporting,
    RoomDetails,
    MediaTransfer,
    UserDirectory,
    Invitations
{
  readonly platform = Platform.Matrix;
  readonly ids: MatrixIds;
  private readonly logger = new Logger(MatrixBridge.name);
  private readonly homeserverUrl: string;
  private readonly membership = new MembershipCache();
  private readonly mentions: MentionResolver;
  private bridge?: Bridge;
  private server?: AppserviceServer;
  private sink?: InboundSink;
  private host?: BridgeHost;
  private boundPort?: number;
  /** Event ID → txn ID of our recent sends: echo keys when the homeserver omits unsigned.transaction_id. */
  private readonly sentTxn = new BoundedMap<string, string>(BOUNDED);
  /** Idempotency key → result of recent posts. */
  private readonly posted = new BoundedMap<string, EchoKeyedPostResult>(BOUNDED);
  private readonly transactions: TransactionProcessor;
  /** Power levels, creators, join rule and snapshots read from the room state. */
  private readonly roomState: RoomStateReader;
  /** `!mimi` commands and the bot's notices. */
  private readonly commands: BridgeCommands;
  /** Users of this homeserver by address, and their invitations (matrix-users.ts). */
  private readonly users: MatrixUsers;
  /** Room upgrades followed (room-upgrade.ts). */
  private readonly upgrades: RoomUpgrades;
  /** Deadlines of every homeserver request, 429s waited out (matrix-errors.ts); stop() fails them at once. */
  private readonly guard = homeserverGuard(this.logger);
  private stopping = false;
  private ping?: HomeserverPing;
  /** The homeserver's media repository (attachments both ways). */
  private readonly media: MatrixMedia;
  /** Ghosts joining, leaving, setting their profile and uploading (ghost-membership.ts). */
  private readonly ghosts: GhostMembership;
  /** The bot's moderation, roles, room details, abuse reports and mirror rooms (room-admin.ts). */
  private readonly admin: RoomAdmin;
  /** Each event of a transaction, and its read receipts (inbound-events.ts). */
  private readonly inbound: InboundEvents;
  /** A message action sent as its ghost (outbound-posts.ts). */
  private readonly outbound: OutboundPosts;
  /** The homeserver's user and alias queries (portal-queries.ts). */
  private readonly portal: PortalQueries;

  constructor(private readonly opts: MatrixBridgeOptions) {
    this.ids = new MatrixIds(opts.matrix.prefix, opts.matrix.domain, opts.registration.sender_localpart);
    this.homeserverUrl = opts.matrix.homeserverUrl.replace(/\/+$/, '');
    this.transactions = new TransactionProcessor(opts.maxPoisonAttempts);
    this.media = new MatrixMedia({ homeserverUrl: this.homeserverUrl, asToken: opts.registration.as_token });
    const native = opts.mentions;
    this.mentions = {
      userUriOf: (mxid) => this.ids.userUriOfGhost(mxid) ?? native?.userUriOf(mxid),
      mxidOf: (uri) => native?.mxidOf(uri) ?? this.ids.ghostUserId(uri),
    };
    const bot = (): Intent => this.bot;
    this.roomState = new RoomStateReader({ bot, ctx: () => this.ctx, membership: this.membership, bounded: BOUNDED });
    this.commands = new BridgeCommands({
      bot,
      host: () => this.host,
      membership: this.membership,
      roomState: this.roomState,
      linkPowerLevel: opts.matrix.linkPowerLevel,
      logger: this.logger,
    });
    this.users = new MatrixUsers({ bot, ids: this.ids });
    this.upgrades = new RoomUpgrades({
      bot,
      host: () => this.host,
      notice: (roomId, replyTo, text, txnId) => this.commands.sendNotice(roomId, replyTo, text, txnId),
      logger: this.logger,
    });
    this.ghosts = new GhostMembership({
      bot,
      membership: this.membership,
      media: this.media,
      homeserverUrl: this.homeserverUrl,
      logger: this.logger,
    });
    this.admin = new RoomAdmin({ bot, ids: this.ids, mentions: this.mentions, roomState: this.roomState });
    this.inbound = new InboundEvents({
      bot,
      ctx: () => this.ctx,
      host: () => this.host,
      sink: () => this.sink,
      ids: this.ids,
      membership: this.membership,
      roomState: this.roomState,
      commands: this.commands,
      upgrades: this.upgrades,
      sentTxn: this.sentTxn,
      logger: this.logger,
    });
    const { ghosts, inbound } = this;
    this.outbound = new OutboundPosts({ bot, ctx: () => this.ctx, ghosts, replyMentions: inbound.replyMentions });
    const intentOf = (userId: string): Intent => this.sdk.getIntent(userId);
    this.portal = new PortalQueries({ bot, intentOf, host: () => this.host, ids: this.ids, logger: this.logger });
  }

  /** The appservice listener's port once started (useful with listenPort 0). */
  get port(): number | undefined {
    return this.boundPort;
  }

  private get ctx(): MapperContext {
    return {
      ids: this.ids,
      homeserverUrl: this.homeserverUrl,
      mentions: this.mentions,
      displayNameOf: (roomId, mxid) => this.membership.getMemberProfile(roomId, mxid)?.displayname,
      avatarOf: (roomId, mxid) => this.membership.getMemberProfile(roomId, mxid)?.avatar_url,
    };
  }

  private get sdk(): Bridge {
    if (!this.bridge || this.stopping) {
      throw new PlatformError(ErrorCode.PlatformUnavailable, 'Matrix bridge not started');
    }
    return this.bridge;
  }

  private get bot(): Intent {
    return this.sdk.getIntent();
  }

  private ghost(user: RemoteUser): Ghost {
    const id = this.ids.ghostUserId(user.userUri);
    if (id === undefined) {
      throw new PlatformError(ErrorCode.PlatformRejected, `no Matrix ghost for ${user.userUri}`, { retryable: false });
    }
    return { id, intent: this.sdk.getIntent(id) };
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------------

  async start(sink: InboundSink, host?: BridgeHost): Promise<void> {
    const bridge = await startSdkBridge({
      homeserverUrl: this.homeserverUrl,
      domain: this.opts.matrix.domain,
      registration: this.opts.registration,
      membership: this.membership,
      logLevel: this.opts.sdkLogLevel ?? 'warn',
    });
    this.bridge = bridge;
    this.sink = sink;
    this.host = host;
    this.stopping = false;
    this.server = new AppserviceServer({
      hsToken: this.opts.registration.hs_token,
      handlers: {
        onTransaction: (txnId, events, ephemeral) => this.onTransaction(txnId, events, ephemeral),
        onUserQuery: (userId) => this.portal.onUserQuery(userId),
        onAliasQuery: (alias) => this.portal.onAliasQuery(alias),
      },
    });
    this.boundPort = await this.server.listen(
      this.opts.listenPort ?? this.opts.matrix.appservicePort,
      this.opts.listenHost ?? this.opts.matrix.appserviceHost,
    );
    this.logger.log(`appservice listening on port ${this.boundPort} for ${this.opts.matrix.domain}`);
    this.ping = new HomeserverPing({
      homeserverUrl: this.homeserverUrl,
      appserviceId: this.opts.registration.id,
      asToken: this.opts.registration.as_token,
    });
    this.ping.start();
  }

  /** The homeserver's state for `/health`: the background start-up ping (homeserver-ping.ts). */
  health(): PlatformHealth {
    return this.ping?.health() ?? { state: 'pending', detail: 'bridge not started' };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const stopped = new PlatformError(ErrorCode.PlatformUnavailable, 'Matrix bridge stopping');
    this.guard.failAll(stopped);
    this.ping?.stop();
    await this.server?.close();
    await this.bridge?.close().catch(() => undefined);
    this.server = undefined;
    this.bridge = undefined;
    this.sink = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Inbound: transactions
  // -------------------------------------------------------------------------------------------

  private async onTransaction(
    txnId: string,
    events: readonly unknown[],
    ephemeral: readonly unknown[] = [],
  ): Promise<TransactionOutcome> {
    const outcome = await this.transactions.process(txnId, events, (ev, recorder) => this.inbound.handle(ev, recorder));
    this.inbound.passReceipts(ephemeral);
    return outcome;
  }

  /**
   * Follower mode: a local room mirroring the remote MIMI room `roomUri`, reachable through its
   * portal alias. Returns the existing room when the alias is already taken by us.
   * @throws PlatformError
   */
  async createMirrorRoom(roomUri: RoomUri, opts: { name?: string } = {}): Promise<LegacyRoomRef> {
    return this.admin.createMirrorRoom(roomUri, opts);
  }

  // -------------------------------------------------------------------------------------------
  // Outbound
  // -------------------------------------------------------------------------------------------

  async post(
    room: LegacyRoomRef,
    as: RemoteUser,
    action: MessageAction,
    opts: PostOptions,
  ): Promise<EchoKeyedPostResult> {
    const known = this.posted.get(opts.idempotencyKey);
    if (known) return known;
    const { id, intent } = this.ghost(as);
    const txnId = txnIdFor('post', opts.idempotencyKey);
    const roomId = room.roomId;
    return this.guard.run(`post to ${roomId} as ${id}`, opts.timeoutMs, async () => {
      const eventId = await this.outbound.send(roomId, { id, intent }, action, txnId, opts.retry);
      const result: EchoKeyedPostResult = { platformEventId: eventId, echoKeys: [txnId], acceptedAt: Date.now() };
      this.sentTxn.set(eventId, txnId);
      this.posted.set(opts.idempotencyKey, result);
      return result;
    });
  }

  async setMembership(room: LegacyRoomRef, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    const ghost = this.ghost(user);
    await this.guard.run(`${membership} ${room.roomId} as ${ghost.id}`, 30_000, () =>
      this.ghosts.setMembership(room.roomId, ghost, user, membership),
    );
  }

  async moderate(
    room: LegacyRoomRef,
    target: LegacyUserRef | RemoteUser,
    action: 'kick' | 'ban' | 'unban',
    reason?: string,
  ): Promise<void> {
    const mxid = this.targetId(target);
    await this.guard.run(`${action} ${mxid} in ${room.roomId}`, 30_000, () =>
      this.admin.moderate(room.roomId, mxid, action, reason),
    );
  }

  async setRole(room: LegacyRoomRef, user: LegacyUserRef | RemoteUser, role: ParticipantRole): Promise<void> {
    if (role === ParticipantRole.Banned) return this.moderate(room, user, 'ban');
    const mxid = this.targetId(user);
    await this.guard.run(`set role of ${mxid} in ${room.roomId}`, 30_000, () =>
      this.admin.setRole(room.roomId, mxid, role),
    );
  }

  /** The bot sets m.room.name / m.room.topic (a mirror room follows the MIMI room_metadata). */
  async setRoomDetails(room: LegacyRoomRef, details: { name?: string; topic?: string }): Promise<void> {
    await this.guard.run(`name/topic of ${room.roomId}`, 30_000, () => this.admin.setRoomDetails(room.roomId, details));
  }

  /** The ghost's display name and avatar, in every room it is in (ghost-membership.ts, ghost-profile.ts). */
  async setProfile(user: RemoteUser, avatar?: MediaBytes): Promise<void> {
    const ghost = this.ghost(user);
    await this.guard.run(`profile of ${ghost.id}`, 30_000, () => this.ghosts.setProfile(ghost, user, avatar));
  }

  /** The room's join rule (room-state-reader.ts). */
  async joinRule(room: LegacyRoomRef): Promise<JoinRule> {
    return this.guard.run(`read the join rule of ${room.roomId}`, 30_000, () => this.roomState.joinRule(room.roomId));
  }

  async getRoomSnapshot(room: LegacyRoomRef): Promise<RoomSnapshot> {
    return this.guard.run(`read ${room.roomId}`, 30_000, () => this.roomState.snapshot(room));
  }

  /** protocol-06 §5.9: a notice to the room's moderators and the homeserver's report API (abuse-report.ts). */
  async reportAbuse(room: LegacyRoomRef, report: AbuseReportNotice): Promise<void> {
    await this.guard.run(`abuse report in ${room.roomId}`, 30_000, () => this.admin.reportAbuse(room.roomId, report));
  }

  /** A mirror room unlinked at its hub: notice, then only the bot may post (mirror-closing.ts). */
  async closeMirrorRoom(room: LegacyRoomRef, notice: string): Promise<void> {
    await this.guard.run(`close ${room.roomId}`, 30_000, () =>
      closeMatrixMirror(this.bot.matrixClient, room.roomId, notice),
    );
  }

  async notifyFailure(room: LegacyRoomRef, about: PlatformMessageRef, humanMessage: string): Promise<void> {
    await this.guard.run(`notify ${room.roomId}`, 30_000, () =>
      this.commands.sendNotice(
        room.roomId,
        about.platformEventId,
        `⚠️ ${humanMessage}`,
        txnIdFor('notify', `${about.platformEventId}\n${humanMessage}`),
      ),
    );
  }

  isOwnUser(userId: string): boolean {
    return this.ids.isOwnUser(userId);
  }

  /** A user of this homeserver by user ID, `matrix:` URI or localpart (matrix-users.ts). */
  lookupUser(search: { readonly type: 'handle' | 'nick'; readonly value: string }): Promise<UserLookup> {
    return this.guard.run(`look up ${search.value}`, 30_000, () => this.users.lookup(search));
  }

  /** The bot invites a user of ours into a (mirror) room. */
  inviteUser(room: LegacyRoomRef, user: LegacyUserRef): Promise<void> {
    return this.guard.run(`invite ${user.userId} to ${room.roomId}`, 30_000, () => this.users.invite(room, user));
  }

  holdsMedia(url: string): boolean {
    return mxcOfDownloadUrl(this.homeserverUrl, url) !== undefined;
  }

  /** Bytes of an attachment this bridge reported, from this homeserver only (media/matrix-media.ts). */
  async downloadMedia(url: string, maxBytes: number): Promise<MediaBytes> {
    return this.guard.run('media download', 60_000, () => this.media.download(url, maxBytes));
  }

  /** Upload into the media repository as the ghost of `as`; the download URL `post` sends as m.image/m.file. */
  async uploadMedia(_room: LegacyRoomRef, as: RemoteUser, file: MediaUpload): Promise<string> {
    const ghost = this.ghost(as);
    return this.guard.run(`media upload as ${ghost.id}`, 60_000, () => this.ghosts.uploadMedia(ghost, file));
  }

  private targetId(user: LegacyUserRef | RemoteUser): string {
    const id = mxidOf(this.ctx, user);
    if (id === undefined) {
      throw new PlatformError(ErrorCode.PlatformRejected, 'no Matrix user for that participant', { retryable: false });
    }
    return id;
  }
}
