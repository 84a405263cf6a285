import { Logger } from '@nestjs/common';
import {
  AppServiceRegistration,
  Bridge,
  type Intent,
  Logger as SdkLogger,
  MembershipCache,
  type UserMembership,
} from 'matrix-appservice-bridge';
import { ErrorCode, PlatformError, errorMessage } from '../../src/common/errors';
import { Platform, type RoomUri } from '../../src/common/ids';
import type { MatrixConfig } from './matrix.config';
import {
  type BridgeHost,
  type InboundEvent,
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
import {
  type MapperContext,
  type MatrixEvent,
  type PowerLevelsContent,
  mapMatrixEvent,
  mapPowerLevels,
  mapRedaction,
  mxidOf,
  outboundEventFor,
  powerLevelForRole,
  powerLevelOf,
  roomRef,
} from './matrix-event.mapper';
import { BoundedMap } from '../kit/bounded-map';
import type { EchoKeyedInboundEvent, EchoKeyedPostResult } from '../kit/echo-keys';
import { PostGuard } from '../kit/post-guard';
import { MatrixIds, mxcOfDownloadUrl } from './matrix-ids';
import { HomeserverPing } from './homeserver-ping';
import { retryRateLimited } from './rate-limit';
import { matrixErrcode, matrixStatus, toPlatformError, txnIdFor } from './matrix-errors';
import { RoomStateReader } from './room-state-reader';
import { BridgeCommands } from './bridge-commands';
import { TransactionProcessor, type TransactionRecorder } from './transaction-processor';
import { redactAsGhostOrBot } from './redactions';
import { ReplyMentions } from './reply-mentions';
import { lifecycleNotice } from './room-lifecycle';
import { MatrixMedia } from './media/matrix-media';
import { MatrixUsers } from './matrix-users';
import { RoomUpgrades } from './room-upgrade';
import { closeMatrixMirror } from './mirror-closing';
import { deliverAbuseReport, moderatorsOf } from './abuse-report';
import { readEventsOf, sendReadReceipt } from './read-receipts';
import { setGhostProfile, setRoomProfile } from './ghost-profile';

/**
 * The Matrix side of the gateway: an application service (Matrix AS API v1.15) built on
 * matrix-appservice-bridge 10.3.3 for ghosts (`Intent`) and registration handling, with its own
 * homeserver-facing HTTP server (appservice-server.ts) so that a transaction is acknowledged
 * only after its events were durably recorded by the core.
 *
 * Port member → Matrix (required members and the capabilities of src/ports/capabilities.port.ts):
 * - start        : Bridge.initialise (no stores: durability is the core's), listen for transactions
 * - post         : PUT /rooms/{id}/send/{type}/{txnId} as the ghost (txnId from the idempotency
 *                  key, so a retry is de-duplicated by the homeserver); delete/unreact = redaction
 * - setMembership: ghost joins (invited by the bot first when the room is invite-only) / leaves
 * - moderate     : the bot kicks / bans / unbans
 * - setRole      : the bot edits m.room.power_levels (Banned = ban)
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

/** The registration the homeserver loaded (registration/generate-appservice-registration.ts). */
interface MatrixRegistration {
  readonly id: string;
  readonly url: string | null;
  readonly as_token: string;
  readonly hs_token: string;
  readonly sender_localpart: string;
  readonly rate_limited?: boolean;
  readonly namespaces: {
    readonly users?: readonly { readonly regex: string; readonly exclusive: boolean }[];
    readonly aliases?: readonly { readonly regex: string; readonly exclusive: boolean }[];
    readonly rooms?: readonly { readonly regex: string; readonly exclusive: boolean }[];
  };
}

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
  /** Replies mention the replied-to author. */
  private readonly replyMentions = new ReplyMentions((roomId, eventId) => this.eventField(roomId, eventId, 'sender'));
  /** Power levels, creators, join rule and snapshots read from the room state. */
  private readonly roomState: RoomStateReader;
  /** `!mimi` commands and the bot's notices. */
  private readonly commands: BridgeCommands;
  /** Users of this homeserver by address, and their invitations (matrix-users.ts). */
  private readonly users: MatrixUsers;
  /** Room upgrades followed (room-upgrade.ts). */
  private readonly upgrades: RoomUpgrades;
  /** Deadlines of every homeserver request; stop() fails them at once. */
  private readonly guard = new PostGuard(toPlatformError, (fn, deadline) => retryRateLimited(fn, deadline));
  private stopping = false;
  private ping?: HomeserverPing;
  /** The homeserver's media repository (attachments both ways). */
  private readonly media: MatrixMedia;

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

  private ghost(user: RemoteUser): { id: string; intent: Intent } {
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
    SdkLogger.configure({ console: this.opts.sdkLogLevel ?? 'warn' });
    const reg = AppServiceRegistration.fromObject(this.opts.registration as never);
    const bridge = new Bridge({
      homeserverUrl: this.homeserverUrl,
      domain: this.opts.matrix.domain,
      registration: reg,
      // Events come through our own AppserviceServer, never through the library's queue.
      controller: { onEvent: () => undefined },
      disableStores: true,
      disableContext: true,
      suppressEcho: false,
      escapeUserIds: false,
      membershipCache: this.membership,
      intentOptions: {
        // Power levels are the core's decision: a ghost never has the bot raise its level.
        bot: { dontCheckPowerLevel: true },
        clients: { dontCheckPowerLevel: true },
      },
    });
    try {
      await bridge.initialise();
      const versions = await fetch(`${this.homeserverUrl}/_matrix/client/versions`, {
        signal: AbortSignal.timeout(10_000),
      });
      if (!versions.ok) throw new Error(`homeserver answered ${versions.status} to /versions`);
    } catch (e) {
      await bridge.close().catch(() => undefined);
      throw new PlatformError(
        ErrorCode.PlatformUnavailable,
        `homeserver ${this.homeserverUrl} unreachable: ${errorMessage(e)}`,
        {
          cause: e,
        },
      );
    }
    this.bridge = bridge;
    this.sink = sink;
    this.host = host;
    this.stopping = false;
    this.server = new AppserviceServer({
      hsToken: this.opts.registration.hs_token,
      handlers: {
        onTransaction: (txnId, events, ephemeral) => this.onTransaction(txnId, events, ephemeral),
        onUserQuery: (userId) => this.onUserQuery(userId),
        onAliasQuery: (alias) => this.onAliasQuery(alias),
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
    const outcome = await this.transactions.process(txnId, events, (ev, recorder) => this.handleEvent(ev, recorder));
    // Receipts are best effort: a later one covers a lost one, so they never hold a transaction back.
    const sink = this.sink;
    if (sink !== undefined) {
      for (const e of readEventsOf(ephemeral, this.ctx, this.ids.botUserId)) {
        sink(e).catch((err: unknown) => this.logger.debug(`receipt ${e.platformEventId}: ${errorMessage(err)}`));
      }
    }
    return outcome;
  }

  private async handleEvent(ev: MatrixEvent, recorder: TransactionRecorder): Promise<void> {
    this.replyMentions.remember(ev.event_id, ev.sender);
    if (ev.type === 'm.room.member' && ev.state_key !== undefined) {
      const profile: { displayname?: string; avatar_url?: string } = {};
      if (typeof ev.content['displayname'] === 'string') profile.displayname = ev.content['displayname'];
      if (typeof ev.content['avatar_url'] === 'string') profile.avatar_url = ev.content['avatar_url'];
      const m = ev.content['membership'];
      this.membership.setMemberEntry(
        ev.room_id,
        ev.state_key,
        (typeof m === 'string' && ['join', 'invite', 'leave', 'ban'].includes(m) ? m : null) as UserMembership,
        profile,
      );
    }
    // The bot's own messages (command answers, failure notices) are bridge chatter, not room content.
    if (ev.sender === this.ids.botUserId && (ev.type === 'm.room.message' || ev.type === 'm.reaction')) return;
    if (ev.type === 'm.room.power_levels' && ev.state_key === '') {
      if (this.upgrades.isReplaced(ev.room_id)) return; // the old room closed by its upgrade (room-upgrade.ts)
      const prevContent = ev.unsigned?.prev_content as PowerLevelsContent | undefined;
      const previous = prevContent ?? this.roomState.knownPowerLevels(ev.room_id);
      this.roomState.rememberPowerLevels(ev.room_id, ev.content as PowerLevelsContent);
      for (const e of mapPowerLevels(ev, this.ctx, previous)) this.record(e, recorder);
      return;
    }
    if (ev.type === 'm.room.tombstone') await this.upgrades.onTombstone(ev);
    const notice = lifecycleNotice(ev);
    const mapped = mapMatrixEvent(ev, this.ctx);
    if (notice !== undefined || mapped.kind === 'command' || mapped.kind === 'botInvite') await recorder.flush();
    if (notice !== undefined && (await this.host?.status(roomRef(ev.room_id)))) {
      this.logger.warn(`room ${ev.room_id} event ${ev.event_id} (${ev.type}): ${notice}`);
      await this.commands.sendNotice(ev.room_id, ev.event_id, notice, txnIdFor('lifecycle', ev.event_id));
    }
    switch (mapped.kind) {
      case 'inbound':
        for (const e of mapped.events) this.record(this.withEchoKeys(e), recorder);
        return;
      case 'redaction': {
        const targetType = await this.eventField(ev.room_id, mapped.target, 'type');
        this.record(this.withEchoKeys(mapRedaction(ev, this.ctx, targetType)), recorder);
        return;
      }
      case 'command':
        await this.commands.run(ev, mapped.command, mapped.unknown, mapped.argument);
        return;
      case 'botInvite':
        if (
          await this.bot.join(ev.room_id).then(
            () => true,
            (e: unknown) =>
              this.logger.warn(`room ${ev.room_id}: could not accept the bot's invite: ${errorMessage(e)}`),
          )
        ) {
          await this.upgrades.followInvite(ev.room_id, ev.sender);
        }
        return;
      case 'ignored':
        this.logger.debug(`room ${ev.room_id} event ${ev.event_id}: ignored (${mapped.reason})`);
        return;
    }
  }

  private withEchoKeys(e: EchoKeyedInboundEvent): EchoKeyedInboundEvent {
    if (e.kind !== 'message' || e.echoKeys !== undefined) return e;
    const txn = this.sentTxn.get(e.platformEventId);
    return txn === undefined ? e : { ...e, echoKeys: [txn] };
  }

  private record(e: InboundEvent, recorder: TransactionRecorder): void {
    if (!this.sink) throw new PlatformError(ErrorCode.PlatformUnavailable, 'bridge stopped');
    recorder.defer(this.sink(e));
  }

  /** A string field of an event (its type, to tell an unlike from a delete; its sender), or undefined when it cannot be read. */
  private async eventField(roomId: string, eventId: string, field: 'type' | 'sender'): Promise<string | undefined> {
    try {
      const ev = (await this.bot.matrixClient.getEvent(roomId, eventId)) as Record<string, unknown>;
      return typeof ev[field] === 'string' ? ev[field] : undefined;
    } catch (e) {
      this.logger.debug(`room ${roomId}: cannot read event ${eventId}: ${errorMessage(e)}`);
      return undefined;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Portal queries
  // -------------------------------------------------------------------------------------------

  private async onUserQuery(userId: string): Promise<boolean> {
    if (this.ids.userUriOfGhost(userId) === undefined) return false;
    try {
      await this.sdk.getIntent(userId).ensureRegistered();
      return true;
    } catch (e) {
      this.logger.warn(`user query ${userId}: ${errorMessage(e)}`);
      return false;
    }
  }

  /** A portal alias was asked for: the core joins the MIMI room and has us create its mirror. */
  private async onAliasQuery(alias: string): Promise<boolean> {
    const roomUri = this.ids.roomUriOfPortalAlias(alias);
    if (roomUri === undefined || !this.host) return false;
    try {
      // The AS API does not say who asked; the bot stands in for them.
      const room = await this.host.joinRemote(roomUri, { platform: Platform.Matrix, userId: this.ids.botUserId });
      try {
        await this.bot.matrixClient.resolveRoom(alias);
      } catch {
        await this.bot.matrixClient.createRoomAlias(alias, room.roomId);
      }
      return true;
    } catch (e) {
      this.logger.warn(`alias query ${alias} (${roomUri}): ${errorMessage(e)}`);
      return false;
    }
  }

  /**
   * Follower mode: a local room mirroring the remote MIMI room `roomUri`, reachable through its
   * portal alias. Returns the existing room when the alias is already taken by us.
   * @throws PlatformError
   */
  async createMirrorRoom(roomUri: RoomUri, opts: { name?: string } = {}): Promise<LegacyRoomRef> {
    const localpart = this.ids.portalAliasLocalpart(roomUri);
    const alias = this.ids.portalAlias(roomUri);
    if (localpart === undefined || alias === undefined) {
      throw new PlatformError(ErrorCode.PlatformRejected, `no portal alias for ${roomUri}`, { retryable: false });
    }
    try {
      const res = (await this.bot.matrixClient.doRequest('POST', '/_matrix/client/v3/createRoom', null, {
        room_alias_name: localpart,
        preset: 'public_chat',
        visibility: 'private',
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        topic: `Mirror of the MIMI room ${roomUri}`,
      })) as { room_id: string };
      return roomRef(res.room_id);
    } catch (e) {
      if (matrixErrcode(e) === 'M_ROOM_IN_USE') {
        return roomRef(await this.bot.matrixClient.resolveRoom(alias));
      }
      throw toPlatformError(e, `create mirror room for ${roomUri}`);
    }
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
      await this.joinGhost(roomId, id, intent);
      let eventId: string;
      if (action.type === 'read') {
        eventId = await sendReadReceipt({ id, intent }, roomId, action.target.platformEventId);
      } else if (action.type === 'delete' || action.type === 'unreact') {
        const target = action.type === 'delete' ? action.target.platformEventId : action.reaction.platformEventId;
        eventId = await redactAsGhostOrBot({ roomId, target, txnId, ghost: { id, intent }, bot: this.bot });
      } else {
        const out = await this.replyMentions.addTo(roomId, id, action, outboundEventFor(action, this.ctx)!);
        const res = (await intent.matrixClient.doRequest(
          'PUT',
          `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${out.type}/${encodeURIComponent(txnId)}`,
          null,
          out.content,
        )) as { event_id: string };
        eventId = res.event_id;
      }
      const result: EchoKeyedPostResult = { platformEventId: eventId, echoKeys: [txnId], acceptedAt: Date.now() };
      this.sentTxn.set(eventId, txnId);
      this.posted.set(opts.idempotencyKey, result);
      return result;
    });
  }

  /** Join a ghost; in an invite-only room the bot invites it first. */
  private async joinGhost(roomId: string, ghostId: string, intent: Intent): Promise<void> {
    if (this.membership.getMemberEntry(roomId, ghostId) === 'join') return;
    await intent.ensureRegistered();
    try {
      await intent.matrixClient.doRequest('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, null, {});
    } catch (e) {
      if (matrixStatus(e) !== 403) throw e;
      await this.bot.matrixClient.inviteUser(ghostId, roomId);
      await intent.matrixClient.doRequest('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, null, {});
    }
    this.membership.setMemberEntry(roomId, ghostId, 'join', {});
  }

  private async ensureGhostRegistered(intent: Intent): Promise<void> {
    await intent.ensureRegistered();
  }

  async setMembership(room: LegacyRoomRef, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    const { id, intent } = this.ghost(user);
    await this.guard.run(`${membership} ${room.roomId} as ${id}`, 30_000, async () => {
      await this.ensureGhostRegistered(intent);
      if (membership === 'join') {
        await this.joinGhost(room.roomId, id, intent);
        if (user.displayName !== undefined) await this.setRoomDisplayName(room.roomId, id, intent, user.displayName);
        return;
      }
      try {
        await intent.matrixClient.leaveRoom(room.roomId);
      } catch (e) {
        // Leaving a room one is not in is a success (idempotent).
        const status = matrixStatus(e);
        if (status !== 403 && status !== 404) throw e;
      }
      this.membership.setMemberEntry(room.roomId, id, 'leave', {});
    });
  }

  /** Per-room display name (the ghost's member event), so a MIMI nickname shows where it belongs. */
  private async setRoomDisplayName(roomId: string, ghostId: string, intent: Intent, name: string): Promise<void> {
    if (this.membership.getMemberProfile(roomId, ghostId)?.displayname === name) return;
    const profile = await setRoomProfile({ id: ghostId, intent }, roomId, { displayname: name });
    this.membership.setMemberEntry(roomId, ghostId, 'join', profile);
  }

  async moderate(
    room: LegacyRoomRef,
    target: LegacyUserRef | RemoteUser,
    action: 'kick' | 'ban' | 'unban',
    reason?: string,
  ): Promise<void> {
    const mxid = this.targetId(target);
    await this.guard.run(`${action} ${mxid} in ${room.roomId}`, 30_000, async () => {
      const client = this.bot.matrixClient;
      if (action === 'kick') await client.kickUser(mxid, room.roomId, reason);
      else if (action === 'ban') await client.banUser(mxid, room.roomId, reason);
      else await client.unbanUser(mxid, room.roomId);
    });
  }

  async setRole(room: LegacyRoomRef, user: LegacyUserRef | RemoteUser, role: ParticipantRole): Promise<void> {
    if (role === ParticipantRole.Banned) return this.moderate(room, user, 'ban');
    const mxid = this.targetId(user);
    await this.guard.run(`set role of ${mxid} in ${room.roomId}`, 30_000, async () => {
      if ((await this.roomState.roomCreators(room.roomId)).has(mxid)) return; // a creator's level cannot change
      const pl = (await this.roomState.roomPowerLevels(room.roomId)) ?? {};
      const level = powerLevelForRole(role, pl);
      if (powerLevelOf(pl, mxid) === level) return;
      const users = { ...((pl.users as Record<string, unknown> | undefined) ?? {}) };
      const usersDefault = typeof pl.users_default === 'number' ? pl.users_default : 0;
      if (level === usersDefault) delete users[mxid];
      else users[mxid] = level;
      const content = { ...pl, users };
      await this.bot.matrixClient.sendStateEvent(room.roomId, 'm.room.power_levels', '', content);
      this.roomState.rememberPowerLevels(room.roomId, content);
    });
  }

  /** The bot sets m.room.name / m.room.topic (a mirror room follows the MIMI room_metadata). */
  async setRoomDetails(room: LegacyRoomRef, details: { name?: string; topic?: string }): Promise<void> {
    await this.guard.run(`name/topic of ${room.roomId}`, 30_000, async () => {
      const client = this.bot.matrixClient;
      if (details.name !== undefined) {
        await client.sendStateEvent(room.roomId, 'm.room.name', '', { name: details.name });
      }
      if (details.topic !== undefined) {
        await client.sendStateEvent(room.roomId, 'm.room.topic', '', { topic: details.topic });
      }
    });
  }

  /**
   * The ghost's display name and avatar, globally and in the member event of each room it is in,
   * before anything more is posted (ghost-profile.ts). `avatar`: the image's bytes (fetched through
   * MIMI), uploaded as the ghost; else only media already on this homeserver is used.
   */
  async setProfile(user: RemoteUser, avatar?: MediaBytes): Promise<void> {
    const ghost = this.ghost(user);
    await this.guard.run(`profile of ${ghost.id}`, 30_000, async () => {
      await this.ensureGhostRegistered(ghost.intent);
      const avatarUrl =
        avatar !== undefined ? await this.media.upload(ghost.id, { ...avatar, filename: 'avatar' }) : user.avatarUrl;
      const mxc = avatarUrl === undefined ? undefined : mxcOfDownloadUrl(this.homeserverUrl, avatarUrl);
      if (mxc === undefined && avatarUrl !== undefined) {
        this.logger.debug(`${ghost.id}: avatar ${avatarUrl} is not Matrix media, not copied`);
      }
      await setGhostProfile(
        ghost,
        {
          ...(user.displayName !== undefined ? { displayname: user.displayName } : {}),
          ...(mxc ? { avatar_url: mxc } : {}),
        },
        (roomId, profile) => this.membership.setMemberEntry(roomId, ghost.id, 'join', profile),
      );
    });
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
    await this.guard.run(`abuse report in ${room.roomId}`, 30_000, async () => {
      const moderators = moderatorsOf(
        await this.roomState.roomPowerLevels(room.roomId),
        await this.roomState.roomCreators(room.roomId),
        (mxid) => this.ids.isOwnUser(mxid),
      );
      const abuser = this.mentions.mxidOf(report.abuser) ?? report.abuser;
      await deliverAbuseReport(this.bot.matrixClient, room.roomId, report, moderators, abuser);
    });
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
    const { id, intent } = this.ghost(as);
    return this.guard.run(`media upload as ${id}`, 60_000, async () => {
      await this.ensureGhostRegistered(intent);
      return this.media.upload(id, file);
    });
  }

  private targetId(user: LegacyUserRef | RemoteUser): string {
    const id = mxidOf(this.ctx, user);
    if (id === undefined) {
      throw new PlatformError(ErrorCode.PlatformRejected, 'no Matrix user for that participant', { retryable: false });
    }
    return id;
  }
}
