/**
 * XmppBridge: the PlatformBridge (src/ports/platform-bridge.port.ts) for XMPP multi-user chats.
 *
 * Two modes, one class:
 *  - component (XEP-0114): every MIMI user is a puppet JID on the component domain
 *    (puppet-jid.ts) that joins the MUC under its own nick (nicks.ts); the bridge's bot
 *    `mimibot@<component>` is an occupant too and is the one that listens and moderates.
 *  - relay (a client account): that one occupant listens, moderates and posts MIMI users'
 *    messages as "<Name>: text" with their XEP-0172 nick.
 *
 * Port member → XMPP (see README.md for the full mapping table):
 *  - start: connect, (re)join every linked MUC as the bot, replay the MUC archive (XEP-0313) from
 *    the cursor, rejoin puppets; config links go to BridgeHost.link.
 *  - post: a groupchat message with id = origin-id (XEP-0359) derived from the idempotency key;
 *    resolves when the MUC reflects it (XEP-0045 §7.4, muc#stable_id), with the MUC's stanza-id as
 *    platformEventId. The reflection reaches the sink as an echo with echoKeys [origin-id].
 *  - setMembership: puppet presence to room/nick (component); nothing in relay mode.
 *  - moderate / setRole: muc#admin IQs from the bot (XEP-0045 §8–§10).
 *  - setProfile: puppet nick change (XEP-0045 §7.6).
 *  - getRoomSnapshot: the bot's occupant list, affiliation lists, disco#info name, subject.
 *  - notifyFailure: a private message from the bot to the author (XEP-0045 §7.5).
 *  - isOwnUser: puppet JIDs (component), the relay account (relay).
 *  - createMirrorRoom: create and configure a MUC on `mucService` (follower mode).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ErrorCode, errorMessage, GatewayError, PlatformError } from '../../src/common/errors';
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import type { BridgeHost } from '../../src/ports/bridge-host.port';
import {
  type InboundEvent,
  type InboundSink,
  type JoinRule,
  type LegacyRoomRef,
  type LegacyUserRef,
  type MessageAction,
  type Membership,
  ParticipantRole,
  type PlatformBridge,
  type PlatformMessageRef,
  type PostOptions,
  type PostResult,
  type RemoteUser,
  type RoomSnapshot,
} from '../../src/ports';
import { BridgeState, type StateStore } from './bridge-state';
import { bare, fullJid, isBareJidWithLocal, parseJid, resourceOf } from './jids';
import {
  composeBody,
  isAllowedAttachmentUrl,
  type MessageRef,
  mapInbound,
  outboundText,
  partitionAttachments,
  replyFallback,
  stripRelayPrefix,
} from './message-mapping';
import { type Occupant, type PuppetRuntime, RoomRuntime } from './muc-room';
import { mucChangeFor, participantRoleOf } from './muc-roles';
import { NS } from './namespaces';
import { asciiNick, chooseNick, nickBase, nickSkeleton } from './nicks';
import {
  BOT_LOCALPART,
  COMPONENT_RESOURCE,
  mirrorRoomLocalpart,
  puppetJid,
  userUriLocalName,
  userUriOfPuppetLocalpart,
} from './puppet-jid';
import { InboundReactionLedger, OutboundReactionLedger } from './reactions';
import {
  type AdminItem,
  buildAdminListGet,
  buildAdminSet,
  buildDiscoInfoGet,
  buildErrorReply,
  buildGroupchat,
  buildMamQuery,
  buildMucJoin,
  buildMucLeave,
  buildNickChange,
  buildOwnerConfigSubmit,
  buildPing,
  buildPrivateMessage,
  MUC_STATUS,
  type OutboundGroupchat,
  parseAdminList,
  parseDiscoInfo,
  parseGroupchat,
  type ParsedGroupchat,
  type ParsedMucPresence,
  parseMamFin,
  parseMamResult,
  parseMucPresence,
  parseStanzaError,
  RETRACTION_FALLBACK_BODY,
  type StanzaErrorInfo,
} from './stanzas';
import { xml, type XmlElement, stanzaBytes } from './xml';
import type { XmppTransport } from './xmpp-transport';

/** Prosody 0.12's defaults: `component_stanza_size_limit` (= s2s) 512 KiB, `c2s_stanza_size_limit` 256 KiB. */
export const PROSODY_COMPONENT_STANZA_LIMIT = 512 * 1024;
export const PROSODY_C2S_STANZA_LIMIT = 256 * 1024;

export interface XmppBridgeOptions {
  readonly mode: 'component' | 'relay';
  readonly transport: XmppTransport;
  /** component mode: the component's domain. */
  readonly componentDomain?: string;
  readonly botNick: string;
  /** MUCs linked at start through BridgeHost.link. */
  readonly links?: readonly string[];
  /** MUC service for createMirrorRoom. */
  readonly mucService?: string;
  readonly attachmentHosts?: readonly string[];
  /** Largest stanza sent (bytes); default: Prosody's limit for the mode. */
  readonly maxStanzaBytes?: number;
  readonly stateStore: StateStore;
  readonly connectTimeoutMs?: number;
  readonly joinTimeoutMs?: number;
  readonly iqTimeoutMs?: number;
  /** XEP-0410 self-ping period of the bot in each MUC; 0 disables it. */
  readonly selfPingIntervalMs?: number;
  /** Retries of an inbound event the core refused, before it is left to the next archive replay. */
  readonly sinkRetryAttempts?: number;
  readonly sinkRetryInitialMs?: number;
}

/** Defaults of the timing options. */
export const XMPP_BRIDGE_DEFAULTS = {
  connectTimeoutMs: 20_000,
  joinTimeoutMs: 15_000,
  iqTimeoutMs: 15_000,
  selfPingIntervalMs: 120_000,
  sinkRetryAttempts: 6,
  sinkRetryInitialMs: 500,
} as const;

/** Page size of archive queries (Prosody's max_archive_query_results default is 50). */
const MAM_PAGE = 50;
/** Posts whose reflection never came are forgotten after this long. */
const PENDING_POST_TTL_MS = 15 * 60_000;
const MAX_NICK_ATTEMPTS = 20;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** The origin-id (and stanza id) of a post: stable across retries of the same idempotency key. */
export function originIdFor(idempotencyKey: string): string {
  return `mimi-${createHash('sha256').update(idempotencyKey).digest('base64url').slice(0, 22)}`;
}

interface PendingJoin {
  readonly room: string;
  readonly from: string;
  readonly done: Deferred<ParsedMucPresence>;
}

interface PendingPost {
  readonly originId: string;
  readonly room: string;
  readonly user: RemoteUser;
  readonly stanza: XmlElement;
  /** The stream generation it was last sent on (undefined: not sent on the current stream). */
  sentGeneration?: number;
  readonly done: Deferred<PostResult>;
  readonly createdAt: number;
  /** Bookkeeping once accepted (reaction ledgers). */
  readonly onAccepted?: (result: PostResult) => void;
}

interface PendingIq {
  readonly done: Deferred<XmlElement>;
  readonly timer: NodeJS.Timeout;
}

interface MamCollector {
  readonly room: string;
  readonly items: { archiveId: string; stamp?: number; message: XmlElement }[];
}

/** Stanza error conditions (RFC 6120 §8.3.3) worth trying again later. */
const TRANSIENT_CONDITIONS = ['resource-constraint', 'remote-server-timeout', 'internal-server-error'];

/** An error from a stanza error (RFC 6120 §8.3), carrying its condition. */
export class XmppStanzaError extends PlatformError {
  constructor(
    readonly info: StanzaErrorInfo,
    what: string,
  ) {
    const transient = info.type === 'wait' || TRANSIENT_CONDITIONS.includes(info.condition);
    super(
      transient ? ErrorCode.PlatformUnavailable : ErrorCode.PlatformRejected,
      `${what}: ${info.condition}${info.text ? ` (${info.text})` : ''}`,
      { retryable: transient },
    );
    this.name = 'XmppStanzaError';
  }
}

export class XmppBridge implements PlatformBridge {
  readonly platform = Platform.Xmpp;
  private readonly logger = new Logger(XmppBridge.name);
  private readonly transport: XmppTransport;
  private readonly opts: Required<
    Pick<
      XmppBridgeOptions,
      | 'connectTimeoutMs'
      | 'joinTimeoutMs'
      | 'iqTimeoutMs'
      | 'selfPingIntervalMs'
      | 'sinkRetryAttempts'
      | 'sinkRetryInitialMs'
      | 'botNick'
    >
  >;
  private readonly maxStanzaBytes: number;
  private readonly attachmentHosts: readonly string[];
  private state?: BridgeState;
  private sink?: InboundSink;
  private host?: BridgeHost;
  private readonly rooms = new Map<string, RoomRuntime>();
  private readonly pendingJoins = new Map<string, PendingJoin>();
  private readonly pendingIqs = new Map<string, PendingIq>();
  private readonly pendingPosts = new Map<string, PendingPost>();
  private readonly mamQueries = new Map<string, MamCollector>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private generation = 0;
  private started = false;
  private stopping = false;
  private readonly onlineWaiters = new Set<() => void>();
  private selfPingTimer?: NodeJS.Timeout;
  private syncing?: Promise<void>;

  constructor(private readonly options: XmppBridgeOptions) {
    this.transport = options.transport;
    if (options.mode === 'component' && !options.componentDomain) {
      throw new Error('XmppBridge: component mode needs componentDomain');
    }
    this.opts = {
      connectTimeoutMs: options.connectTimeoutMs ?? XMPP_BRIDGE_DEFAULTS.connectTimeoutMs,
      joinTimeoutMs: options.joinTimeoutMs ?? XMPP_BRIDGE_DEFAULTS.joinTimeoutMs,
      iqTimeoutMs: options.iqTimeoutMs ?? XMPP_BRIDGE_DEFAULTS.iqTimeoutMs,
      selfPingIntervalMs: options.selfPingIntervalMs ?? XMPP_BRIDGE_DEFAULTS.selfPingIntervalMs,
      sinkRetryAttempts: options.sinkRetryAttempts ?? XMPP_BRIDGE_DEFAULTS.sinkRetryAttempts,
      sinkRetryInitialMs: options.sinkRetryInitialMs ?? XMPP_BRIDGE_DEFAULTS.sinkRetryInitialMs,
      botNick: options.botNick,
    };
    this.maxStanzaBytes =
      options.maxStanzaBytes ??
      (options.mode === 'component' ? PROSODY_COMPONENT_STANZA_LIMIT : PROSODY_C2S_STANZA_LIMIT);
    this.attachmentHosts = options.attachmentHosts ?? [];
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /** Connect, join every linked MUC and replay what was missed; then link the configured MUCs. */
  async start(sink: InboundSink, host?: BridgeHost): Promise<void> {
    if (this.started) throw new Error('XmppBridge already started');
    this.sink = sink;
    this.host = host;
    this.stopping = false;
    this.state = new BridgeState(this.options.stateStore, (e) =>
      this.logger.error(`writing the XMPP bridge state failed: ${errorMessage(e)}`),
    );
    for (const jid of this.state.roomJids()) this.roomRuntime(jid);
    for (const jid of this.options.links ?? []) this.roomRuntime(bare(jid));
    this.started = true;
    try {
      await this.transport.start(
        {
          stanza: (el) => this.onStanza(el),
          iqRequest: (el) => this.onIqRequest(el),
          online: (e) => this.onOnline(e.resumed),
          offline: (reason) => this.onOffline(reason),
        },
        this.opts.connectTimeoutMs,
      );
    } catch (e) {
      this.started = false;
      throw e;
    }
    await this.syncing;
    for (const jid of this.options.links ?? []) {
      const room = this.ref(bare(jid));
      try {
        await this.host?.link(room, {
          platform: Platform.Xmpp,
          userId: this.botBareJid(),
          displayName: 'configuration',
        });
      } catch (e) {
        this.logger.error(`linking ${room.roomId} from the configuration failed: ${errorMessage(e)}`);
      }
    }
    if (this.opts.selfPingIntervalMs > 0) {
      this.selfPingTimer = setInterval(() => void this.selfPingAll(), this.opts.selfPingIntervalMs);
      this.selfPingTimer.unref();
    }
  }

  /** Leave the MUCs, stop the stream; pending posts reject with PlatformUnavailable. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    if (this.selfPingTimer) clearInterval(this.selfPingTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const unavailable = new PlatformError(ErrorCode.PlatformUnavailable, 'XMPP bridge stopped');
    for (const p of this.pendingPosts.values()) p.done.reject(unavailable);
    this.pendingPosts.clear();
    this.failPendingExchanges(unavailable);
    if (this.transport.isOnline) {
      for (const room of this.rooms.values()) {
        for (const puppet of room.puppets.values()) {
          if (puppet.joined && puppet.nick !== undefined) {
            await this.sendQuietly(
              buildMucLeave({ from: this.puppetFullJid(puppet.user.userUri), to: fullJid(room.jid, puppet.nick) }),
            );
          }
        }
        if (room.botJoined && room.botNick !== undefined) {
          await this.sendQuietly(buildMucLeave({ from: this.botFrom(), to: fullJid(room.jid, room.botNick) }));
        }
      }
    }
    await Promise.allSettled([...this.rooms.values()].map((r) => r.queue));
    this.state?.flush();
    await this.transport.stop();
    this.rooms.clear();
    this.started = false;
  }

  // -------------------------------------------------------------------------------------------
  // Outbound: the port

  async post(room: LegacyRoomRef, as: RemoteUser, action: MessageAction, opts: PostOptions): Promise<PostResult> {
    const deadline = Date.now() + opts.timeoutMs;
    const r = this.linkedRoom(room);
    const originId = originIdFor(opts.idempotencyKey);
    // Joining replays the archive first: a post that landed before a crash is found there.
    await this.withDeadline(deadline, 'post', () => this.ensureBot(r, deadline));
    const journal = r.state.posted[originId];
    if (journal) return { platformEventId: journal.stanzaId, echoKeys: [originId], acceptedAt: journal.at };
    let pending = this.pendingPosts.get(originId);
    if (!pending) {
      const built = this.buildPost(r, as, action, originId);
      const bytes = stanzaBytes(built.stanza);
      if (bytes > this.maxStanzaBytes) {
        throw new PlatformError(
          ErrorCode.PlatformRejected,
          `stanza of ${bytes} bytes exceeds the XMPP server's limit of ${this.maxStanzaBytes} bytes`,
          {
            retryable: false,
            humanMessage: `This message is too large for the XMPP room (${bytes} bytes; the limit is ${this.maxStanzaBytes}).`,
          },
        );
      }
      pending = {
        originId,
        room: r.jid,
        user: as,
        stanza: built.stanza,
        done: deferred<PostResult>(),
        createdAt: Date.now(),
        onAccepted: built.onAccepted,
      };
      this.pendingPosts.set(originId, pending);
      const forget = setTimeout(() => {
        this.timers.delete(forget);
        if (this.pendingPosts.get(originId) === pending) this.pendingPosts.delete(originId);
      }, PENDING_POST_TTL_MS);
      forget.unref();
      this.timers.add(forget);
    }
    const p = pending;
    await this.withDeadline(deadline, 'post', async () => {
      await this.ensureSender(r, as, deadline);
      if (p.sentGeneration !== this.generation) {
        p.sentGeneration = this.generation;
        try {
          await this.transport.send(p.stanza);
        } catch (e) {
          p.sentGeneration = undefined;
          throw e;
        }
      }
    });
    return this.withDeadline(deadline, 'post (waiting for the MUC to reflect it)', () => p.done.promise);
  }

  async setMembership(room: LegacyRoomRef, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    const r = this.linkedRoom(room);
    if (this.options.mode === 'relay') return;
    const deadline = Date.now() + this.opts.joinTimeoutMs;
    if (membership === 'join') {
      r.state.puppets[user.userUri] = { displayName: user.displayName };
      this.state!.changed();
      const puppet = this.puppetRuntime(r, user);
      puppet.removed = false;
      await this.ensureBot(r, deadline);
      await this.joinPuppet(r, puppet, deadline);
      return;
    }
    delete r.state.puppets[user.userUri];
    this.state!.changed();
    const puppet = r.puppets.get(user.userUri);
    r.puppets.delete(user.userUri);
    if (puppet?.joined && puppet.nick !== undefined) {
      puppet.joined = false;
      await this.transport.send(
        buildMucLeave({ from: this.puppetFullJid(user.userUri), to: fullJid(r.jid, puppet.nick) }),
      );
    }
  }

  async moderate(
    room: LegacyRoomRef,
    target: LegacyUserRef | RemoteUser,
    action: 'kick' | 'ban' | 'unban',
    reason?: string,
  ): Promise<void> {
    const r = this.linkedRoom(room);
    await this.ensureBot(r, Date.now() + this.opts.joinTimeoutMs);
    const who = this.resolveTarget(r, target);
    let item: AdminItem;
    if (action === 'kick') {
      // XEP-0045 §8.2: kicking is a role change to none, by nick.
      if (who.nick === undefined) {
        if ('userUri' in target && this.options.mode === 'relay') return;
        return; // not an occupant: nothing to kick, idempotent
      }
      item = { nick: who.nick, role: 'none', reason };
    } else {
      if (who.jid === undefined) {
        if ('userUri' in target && this.options.mode === 'relay') return;
        throw new PlatformError(
          ErrorCode.PlatformRejected,
          `cannot ${action} ${this.describe(target)}: real JID unknown`,
          {
            retryable: false,
          },
        );
      }
      // XEP-0045 §9.1 ban = affiliation outcast; unban = affiliation none.
      item = { jid: who.jid, affiliation: action === 'ban' ? 'outcast' : 'none', reason };
    }
    await this.adminSet(r, [item], `${action} ${this.describe(target)}`);
  }

  async setRole(room: LegacyRoomRef, user: LegacyUserRef | RemoteUser, role: ParticipantRole): Promise<void> {
    const r = this.linkedRoom(room);
    await this.ensureBot(r, Date.now() + this.opts.joinTimeoutMs);
    const who = this.resolveTarget(r, user);
    const change = mucChangeFor(role);
    if ('userUri' in user && this.options.mode === 'relay') return;
    if (change.kind === 'affiliation') {
      if (who.jid === undefined) {
        throw new PlatformError(
          ErrorCode.PlatformRejected,
          `cannot make ${this.describe(user)} ${role}: real JID unknown`,
          {
            retryable: false,
          },
        );
      }
      await this.adminSet(r, [{ jid: who.jid, affiliation: change.affiliation }], `set ${role}`);
      return;
    }
    if (who.nick === undefined) {
      throw new PlatformError(
        ErrorCode.PlatformRejected,
        `cannot make ${this.describe(user)} ${role}: not in the room`,
        {
          retryable: false,
        },
      );
    }
    await this.adminSet(r, [{ nick: who.nick, role: change.role }], `set ${role}`);
  }

  /** Component mode: puppets whose display name changed take the new nick in every room. */
  async setProfile(user: RemoteUser): Promise<void> {
    if (this.options.mode === 'relay') return;
    for (const r of this.rooms.values()) {
      const puppet = r.puppets.get(user.userUri);
      if (!puppet) continue;
      const before = puppet.user.displayName;
      puppet.user = user;
      if (r.state.puppets[user.userUri]) r.state.puppets[user.userUri] = { displayName: user.displayName };
      if (before === user.displayName || !puppet.joined) continue;
      puppet.nickAttempt = 0;
      puppet.ascii = false;
      await this.renamePuppet(r, puppet);
    }
    this.state?.changed();
  }

  /**
   * From the room's disco#info (XEP-0045 §6.4): `public` for an open room (`muc_open`) without a
   * password; a members-only or password-protected room, or one that does not say, is `invite`.
   */
  async joinRule(room: LegacyRoomRef): Promise<JoinRule> {
    const info = parseDiscoInfo(
      await this.iq(buildDiscoInfoGet({ from: this.botFrom(), to: room.roomId, id: randomUUID() })),
    );
    const open = info.features.includes('muc_open') && !info.features.includes('muc_membersonly');
    return open && !info.features.includes('muc_passwordprotected') ? 'public' : 'invite';
  }

  async getRoomSnapshot(room: LegacyRoomRef): Promise<RoomSnapshot> {
    const r = this.linkedRoom(room);
    await this.ensureBot(r, Date.now() + this.opts.joinTimeoutMs);
    const members = new Map<string, { user: LegacyUserRef | RemoteUser; role: ParticipantRole }>();
    for (const o of r.occupants.values()) {
      if (o.own === '') continue;
      const user = this.occupantUser(r, o);
      members.set(this.userKey(user), { user, role: participantRoleOf(o.affiliation, o.role) });
    }
    // Absent users with an affiliation are members too (owners, admins, members, outcasts).
    for (const affiliation of ['owner', 'admin', 'member', 'outcast'] as const) {
      try {
        const res = await this.iq(
          buildAdminListGet({ from: this.botFrom(), to: r.jid, id: randomUUID(), affiliation }),
        );
        for (const item of parseAdminList(res)) {
          if (this.isBotJid(item.jid)) continue;
          const user = this.userOfJid(item.jid, item.nick);
          const key = this.userKey(user);
          if (!members.has(key)) members.set(key, { user, role: participantRoleOf(item.affiliation, undefined) });
        }
      } catch (e) {
        this.logger.debug(`${r.jid}: ${affiliation} list not readable: ${errorMessage(e)}`);
      }
    }
    await this.discoverRoom(r);
    return { room: this.ref(r.jid), name: r.name, topic: r.state.subject, members: [...members.values()] };
  }

  async notifyFailure(room: LegacyRoomRef, about: PlatformMessageRef, humanMessage: string): Promise<void> {
    const r = this.linkedRoom(room);
    await this.ensureBot(r, Date.now() + this.opts.joinTimeoutMs);
    const ref = r.refs.get(about.platformEventId);
    const text = `⚠ ${humanMessage}`;
    if (ref?.nick !== undefined && r.occupants.has(ref.nick)) {
      await this.transport.send(
        buildPrivateMessage({ from: this.botFrom(), to: fullJid(r.jid, ref.nick), id: randomUUID(), body: text }),
      );
      return;
    }
    await this.transport.send(
      buildGroupchat({
        from: this.botFrom(),
        to: r.jid,
        id: `mimi-notice-${randomUUID()}`,
        body: text,
        reply: { id: about.platformEventId, to: ref?.nick !== undefined ? fullJid(r.jid, ref.nick) : undefined },
      }),
    );
  }

  isOwnUser(userId: string): boolean {
    if (this.options.mode === 'component') {
      return parseJid(userId).domain === this.options.componentDomain!.toLowerCase();
    }
    const address = this.transport.address;
    if (address !== undefined && bare(userId) === bare(address)) return true;
    return [...this.rooms.values()].some((r) => r.botNick !== undefined && userId === fullJid(r.jid, r.botNick));
  }

  /**
   * Follower mode: create (or reuse) the MUC that mirrors the MIMI room `roomUri` on the
   * configured MUC service, configured persistent, archived and not public, with the bot as owner.
   * @throws PlatformError PlatformRejected when no mucService is configured or the room belongs to someone else
   */
  async createMirrorRoom(roomUri: RoomUri, opts: { name?: string } = {}): Promise<LegacyRoomRef> {
    if (!this.options.mucService) {
      throw new PlatformError(ErrorCode.PlatformRejected, 'xmpp.mucService is not configured', { retryable: false });
    }
    const jid = `${mirrorRoomLocalpart(roomUri)}@${this.options.mucService}`;
    const r = this.roomRuntime(jid);
    r.state.mirrorOf = roomUri;
    this.state!.changed();
    r.name = opts.name ?? roomUri;
    const self = await this.ensureBot(r, Date.now() + this.opts.joinTimeoutMs);
    const created = self?.statusCodes.includes(MUC_STATUS.ROOM_CREATED) ?? false;
    const me = r.botNick !== undefined ? r.occupants.get(r.botNick) : undefined;
    if (!created && me?.affiliation !== 'owner') {
      throw new PlatformError(ErrorCode.PlatformRejected, `${jid} exists and the bridge does not own it`, {
        retryable: false,
      });
    }
    // A new room was configured when the bot created it (joinBot); an existing one gets its name again.
    if (!created) await this.configureRoom(r);
    return this.ref(jid);
  }

  /**
   * XEP-0045 §10.1.3 configuration of a room the bridge owns: persistent, archived, not public,
   * real JIDs for moderators; a mirror says what it mirrors. Prosody ignores fields it does not know.
   */
  private async configureRoom(r: RoomRuntime): Promise<void> {
    const mirrorOf = r.state.mirrorOf;
    await this.iq(
      buildOwnerConfigSubmit({
        from: this.botFrom(),
        to: r.jid,
        id: randomUUID(),
        fields: {
          'muc#roomconfig_roomname': r.name ?? parseJid(r.jid).local,
          ...(mirrorOf ? { 'muc#roomconfig_roomdesc': `Mirror of the MIMI room ${mirrorOf}` } : {}),
          'muc#roomconfig_persistentroom': '1',
          'muc#roomconfig_publicroom': '0',
          'muc#roomconfig_membersonly': '0',
          'muc#roomconfig_moderatedroom': '0',
          'muc#roomconfig_changesubject': mirrorOf ? '0' : '1',
          'muc#roomconfig_whois': 'moderators',
          'muc#roomconfig_enablearchiving': '1',
        },
      }),
    );
  }

  /** The MUCs the bridge keeps joined (linked by config, by use, or as mirrors). */
  linkedRooms(): LegacyRoomRef[] {
    return [...this.rooms.keys()].map((jid) => this.ref(jid));
  }

  /** The nick a MIMI user's puppet has in `room` (component mode), once joined. */
  puppetNick(room: LegacyRoomRef, userUri: UserUri): string | undefined {
    return this.rooms.get(bare(room.roomId))?.puppets.get(userUri)?.nick;
  }

  /** The bridge bot's nick in `room`, once joined. */
  botNickIn(room: LegacyRoomRef): string | undefined {
    return this.rooms.get(bare(room.roomId))?.botNick;
  }

  // -------------------------------------------------------------------------------------------
  // Building posts

  private buildPost(
    r: RoomRuntime,
    as: RemoteUser,
    action: MessageAction,
    originId: string,
  ): { stanza: XmlElement; onAccepted?: (result: PostResult) => void } {
    const relay = this.options.mode === 'relay';
    const author = relay ? (as.displayName ?? userUriLocalName(as.userUri)) : undefined;
    const base: Pick<OutboundGroupchat, 'from' | 'to' | 'id' | 'nick'> = {
      from: relay ? undefined : this.puppetFullJid(as.userUri),
      to: r.jid,
      id: originId,
      nick: author,
    };
    const allowed = (url: string): boolean => isAllowedAttachmentUrl(url, this.attachmentHosts);
    switch (action.type) {
      case 'post': {
        const { passed, omitted } = partitionAttachments(action.body.attachments, allowed);
        let body = composeBody(outboundText(action.body, author), passed, omitted);
        let reply: OutboundGroupchat['reply'];
        if (action.inReplyTo) {
          const ref = this.lookupRef(r, action.inReplyTo.platformEventId);
          const fallback = ref?.text !== undefined ? replyFallback(ref) : '';
          body = fallback + body;
          reply = {
            id: action.inReplyTo.platformEventId,
            to: ref?.nick !== undefined ? fullJid(r.jid, ref.nick) : undefined,
            fallbackLength: [...fallback].length,
          };
        }
        return { stanza: buildGroupchat({ ...base, body, reply, files: passed }) };
      }
      case 'edit': {
        const messageId = this.messageIdOf(r, action.target.platformEventId);
        if (messageId === undefined) {
          throw new PlatformError(
            ErrorCode.PlatformRejected,
            `cannot correct ${action.target.platformEventId}: the bridge does not know that message's id`,
            { retryable: false },
          );
        }
        const { passed, omitted } = partitionAttachments(action.body.attachments, allowed);
        const body = composeBody(outboundText(action.body, author), passed, omitted);
        return { stanza: buildGroupchat({ ...base, body, replaceId: messageId, files: passed }) };
      }
      case 'delete':
        return {
          stanza: buildGroupchat({
            ...base,
            body: RETRACTION_FALLBACK_BODY,
            retractId: action.target.platformEventId,
            store: true,
          }),
        };
      case 'react': {
        const ledger = new OutboundReactionLedger(r.state.reactionsOut);
        const target = action.target.platformEventId;
        const emojis = ledger.setAfterAdd(as.userUri, target, action.key, relay);
        return {
          stanza: buildGroupchat({ ...base, reactions: { id: target, emojis }, store: true }),
          onAccepted: (res) => {
            ledger.recordAdd(as.userUri, target, action.key, res.platformEventId);
            this.state?.changed();
          },
        };
      }
      case 'unreact': {
        const ledger = new OutboundReactionLedger(r.state.reactionsOut);
        const found = ledger.find(action.reaction.platformEventId);
        if (!found) {
          throw new PlatformError(
            ErrorCode.PlatformRejected,
            `unknown reaction ${action.reaction.platformEventId}: nothing to remove`,
            { retryable: false },
          );
        }
        const emojis = ledger.setAfterRemove(found.actor, found.target, found.emoji, relay);
        return {
          stanza: buildGroupchat({ ...base, reactions: { id: found.target, emojis }, store: true }),
          onAccepted: () => {
            ledger.recordRemove(found.actor, found.target, found.emoji);
            this.state?.changed();
          },
        };
      }
    }
  }

  private lookupRef(r: RoomRuntime, stanzaId: string): MessageRef | undefined {
    return r.refs.get(stanzaId);
  }

  /** The stanza `id` of the message with this stanza-id (XEP-0308 references it). */
  private messageIdOf(r: RoomRuntime, stanzaId: string): string | undefined {
    const ref = r.refs.get(stanzaId);
    if (ref?.messageId !== undefined) return ref.messageId;
    for (const [originId, entry] of Object.entries(r.state.posted)) if (entry.stanzaId === stanzaId) return originId;
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Stream events

  private onOnline(resumed: boolean): void {
    if (resumed) {
      this.wakeOnlineWaiters();
      return;
    }
    this.generation += 1;
    for (const r of this.rooms.values()) {
      r.botJoined = false;
      r.botJoining = undefined;
      for (const p of r.puppets.values()) {
        p.joined = false;
        p.joining = undefined;
      }
    }
    this.wakeOnlineWaiters();
    this.syncing = this.syncAll();
  }

  /**
   * The stream is gone. Occupancy is only known lost once a new session starts (`onOnline` with
   * resumed false): an XEP-0198 resumption keeps it.
   */
  private onOffline(reason: string): void {
    this.logger.warn(`XMPP stream offline (${reason}); reconnecting`);
    this.failPendingExchanges(new PlatformError(ErrorCode.PlatformUnavailable, `XMPP stream offline: ${reason}`));
  }

  private failPendingExchanges(error: PlatformError): void {
    for (const j of this.pendingJoins.values()) j.done.reject(error);
    this.pendingJoins.clear();
    for (const q of this.pendingIqs.values()) {
      clearTimeout(q.timer);
      q.done.reject(error);
    }
    this.pendingIqs.clear();
  }

  private wakeOnlineWaiters(): void {
    for (const w of this.onlineWaiters) w();
    this.onlineWaiters.clear();
  }

  /** Rejoin every room after a (re)connection: bot, archive replay, puppets, unreflected posts. */
  private async syncAll(): Promise<void> {
    const generation = this.generation;
    await Promise.all(
      [...this.rooms.values()].map(async (r) => {
        try {
          await this.syncRoom(r, generation);
        } catch (e) {
          this.logger.error(`${r.jid}: rejoining failed: ${errorMessage(e)}`);
        }
      }),
    );
  }

  private async syncRoom(r: RoomRuntime, generation: number): Promise<void> {
    const deadline = Date.now() + this.opts.joinTimeoutMs;
    await this.ensureBot(r, deadline);
    if (this.options.mode === 'component') {
      for (const [userUri, p] of Object.entries(r.state.puppets)) {
        const puppet = this.puppetRuntime(r, { userUri: userUri as UserUri, displayName: p.displayName });
        if (puppet.removed) continue;
        try {
          await this.joinPuppet(r, puppet, Date.now() + this.opts.joinTimeoutMs);
        } catch (e) {
          this.logger.warn(`${r.jid}: puppet ${userUri} did not rejoin: ${errorMessage(e)}`);
        }
      }
    }
    if (generation !== this.generation) return;
    // Posts sent on an earlier stream whose reflection the archive did not show: send again, same id.
    for (const p of this.pendingPosts.values()) {
      if (p.room !== r.jid || p.sentGeneration === undefined || p.sentGeneration === this.generation) continue;
      p.sentGeneration = this.generation;
      this.logger.log(`${r.jid}: re-sending ${p.originId}, not reflected before the stream was lost`);
      await this.sendQuietly(p.stanza);
    }
  }

  private onStanza(el: XmlElement): void {
    switch (el.name) {
      case 'message':
        return this.onMessage(el);
      case 'presence':
        return this.onPresence(el);
      case 'iq':
        return this.onIqResponse(el);
      default:
        return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // IQ

  private async onIqRequest(el: XmlElement): Promise<XmlElement | true | undefined> {
    const child = el.getChildElements()[0];
    if (!child) return undefined;
    if (el.attrs.type === 'get' && child.is('ping', NS.PING)) return true; // XEP-0199 §4.2
    if (el.attrs.type === 'get' && child.is('query', NS.DISCO_INFO)) {
      // XEP-0030: the component, the bot and the puppets are automated clients.
      return xml(
        'query',
        { xmlns: NS.DISCO_INFO },
        xml('identity', {
          category: this.options.mode === 'component' ? 'gateway' : 'client',
          type: 'bot',
          name: 'MIMI gateway',
        }),
        [NS.DISCO_INFO, NS.PING, NS.CORRECT, NS.RETRACT, NS.REACTIONS, NS.REPLY, NS.OOB, NS.SID].map((v) =>
          xml('feature', { var: v }),
        ),
      );
    }
    return undefined;
  }

  private iq(el: XmlElement, timeoutMs = this.opts.iqTimeoutMs): Promise<XmlElement> {
    const id = el.attrs.id ?? randomUUID();
    el.attrs.id = id;
    const done = deferred<XmlElement>();
    const timer = setTimeout(() => {
      this.pendingIqs.delete(id);
      done.reject(
        new PlatformError(ErrorCode.Timeout, `no answer to IQ ${id} from ${el.attrs.to ?? ''} in ${timeoutMs} ms`),
      );
    }, timeoutMs);
    timer.unref();
    this.pendingIqs.set(id, { done, timer });
    this.transport.send(el).catch((e: unknown) => {
      clearTimeout(timer);
      this.pendingIqs.delete(id);
      done.reject(e);
    });
    return done.promise;
  }

  private onIqResponse(el: XmlElement): void {
    const id = el.attrs.id;
    const pending = id !== undefined ? this.pendingIqs.get(id) : undefined;
    if (!pending || id === undefined) return;
    this.pendingIqs.delete(id);
    clearTimeout(pending.timer);
    const error = parseStanzaError(el);
    if (error) pending.done.reject(new XmppStanzaError(error, `IQ to ${el.attrs.from ?? ''}`));
    else pending.done.resolve(el);
  }

  private async adminSet(r: RoomRuntime, items: AdminItem[], what: string): Promise<void> {
    try {
      await this.iq(buildAdminSet({ from: this.botFrom(), to: r.jid, id: randomUUID(), items }));
    } catch (e) {
      if (e instanceof XmppStanzaError) {
        throw new PlatformError(e.code, `${r.jid}: ${what} refused: ${e.info.condition}`, {
          retryable: e.retryable,
          cause: e,
        });
      }
      throw e;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Joining

  /** The bot is an occupant of `r` (joined now if needed); returns its self-presence when it joined now. */
  private async ensureBot(r: RoomRuntime, deadline: number): Promise<ParsedMucPresence | undefined> {
    await this.waitOnline(deadline);
    if (r.botJoining) {
      // Joined but still replaying the archive, or joining: wait for the whole of it.
      await r.botJoining;
      if (r.botJoined) return undefined;
    }
    if (r.botJoined) return undefined;
    if (!r.botJoining) {
      const joining = this.joinBot(r, deadline);
      r.botJoining = joining.then(
        () => undefined,
        () => undefined,
      );
      try {
        return await joining;
      } finally {
        r.botJoining = undefined;
      }
    }
    await r.botJoining;
    if (!r.botJoined) throw new PlatformError(ErrorCode.PlatformUnavailable, `${r.jid}: the bridge is not in the room`);
    return undefined;
  }

  private async joinBot(r: RoomRuntime, deadline: number): Promise<ParsedMucPresence> {
    r.syncing = true;
    r.catchingUp = true;
    r.occupants.clear();
    let self: ParsedMucPresence | undefined;
    try {
      for (let attempt = 1; attempt <= MAX_NICK_ATTEMPTS; attempt++) {
        const nick = attempt === 1 ? this.opts.botNick : `${this.opts.botNick} [${attempt}]`;
        try {
          self = await this.joinAs(r, this.botFrom(), nick, '', deadline);
          break;
        } catch (e) {
          if (e instanceof XmppStanzaError && e.info.condition === 'conflict') continue;
          throw e;
        }
      }
      if (!self) throw new PlatformError(ErrorCode.PlatformRejected, `${r.jid}: no free nick for the bridge`);
      r.botNick = self.nick;
      r.occupants.set(self.nick, {
        nick: self.nick,
        own: '',
        affiliation: self.affiliation,
        role: self.role,
        occupantId: self.occupantId,
        realJid: self.realJid,
      });
      if (self.occupantId && r.state.ownOccupantIds[self.occupantId] === undefined) {
        r.state.ownOccupantIds[self.occupantId] = '';
        this.state!.flush();
      }
      r.botJoined = true;
      r.syncing = false;
      this.reportOccupantDiff(r);
      this.logger.log(`${r.jid}: joined as '${self.nick}'`);
      if (self.statusCodes.includes(MUC_STATUS.ROOM_CREATED)) {
        // Our join created the room (XEP-0045 §10.1.1); it stays locked until configured.
        this.logger.log(`${r.jid}: the room did not exist; created and configured it`);
        await this.configureRoom(r);
      }
      await this.catchUp(r);
      return self;
    } finally {
      r.syncing = false;
      this.releaseBuffered(r);
    }
  }

  /** Send a MUC join presence and wait for our self-presence or the error. */
  private async joinAs(
    r: RoomRuntime,
    from: string | undefined,
    nick: string,
    owner: string,
    deadline: number,
  ): Promise<ParsedMucPresence> {
    const ourJid = from ?? this.transport.address ?? '';
    const key = `${ourJid}\n${r.jid}`;
    this.pendingJoins.get(key)?.done.reject(new PlatformError(ErrorCode.PlatformUnavailable, 'superseded join'));
    const join: PendingJoin = { room: r.jid, from: ourJid, done: deferred<ParsedMucPresence>() };
    this.pendingJoins.set(key, join);
    // The bot may see the newcomer's presence before our self-presence arrives: tell it who this is.
    r.expectedNicks.set(nick, owner);
    try {
      await this.transport.send(buildMucJoin({ from, to: fullJid(r.jid, nick) }));
      return await this.withDeadline(deadline, `joining ${r.jid} as '${nick}'`, () => join.done.promise);
    } finally {
      r.expectedNicks.delete(nick);
      if (this.pendingJoins.get(key) === join) this.pendingJoins.delete(key);
    }
  }

  private puppetRuntime(r: RoomRuntime, user: RemoteUser): PuppetRuntime {
    let p = r.puppets.get(user.userUri);
    if (!p) {
      p = { user, joined: false, removed: false, nickAttempt: 0, ascii: false };
      r.puppets.set(user.userUri, p);
    } else if (user.displayName !== undefined) {
      p.user = user;
    }
    return p;
  }

  private nickFor(r: RoomRuntime, puppet: PuppetRuntime): { nick: string; attempt: number } {
    const fallback = userUriLocalName(puppet.user.userUri);
    let base = nickBase(puppet.user.displayName, fallback);
    if (puppet.ascii) base = asciiNick(base, fallback);
    const taken = [...r.occupants.values()].filter((o) => o.own !== puppet.user.userUri).map((o) => o.nick);
    return chooseNick(base, taken, puppet.nickAttempt);
  }

  private async joinPuppet(r: RoomRuntime, puppet: PuppetRuntime, deadline: number): Promise<void> {
    if (puppet.joined) return;
    if (puppet.joining) return puppet.joining;
    const run = async (): Promise<void> => {
      const from = this.puppetFullJid(puppet.user.userUri);
      for (let i = 0; i < MAX_NICK_ATTEMPTS; i++) {
        const { nick, attempt } = this.nickFor(r, puppet);
        try {
          const self = await this.joinAs(r, from, nick, puppet.user.userUri, deadline);
          puppet.nick = self.nick;
          puppet.joined = true;
          puppet.nickAttempt = attempt;
          if (self.occupantId && r.state.ownOccupantIds[self.occupantId] !== puppet.user.userUri) {
            // Written at once: after a crash, this is how archived messages are recognised as ours.
            r.state.ownOccupantIds[self.occupantId] = puppet.user.userUri;
            this.state!.flush();
          }
          const o = r.occupants.get(self.nick) ?? { nick: self.nick };
          o.own = puppet.user.userUri;
          o.occupantId = self.occupantId;
          o.affiliation = self.affiliation;
          o.role = self.role;
          r.occupants.set(self.nick, o);
          return;
        } catch (e) {
          if (!(e instanceof XmppStanzaError)) throw e;
          if (e.info.condition === 'conflict') {
            puppet.nickAttempt = attempt + 1;
            continue;
          }
          if (e.info.condition === 'jid-malformed' && !puppet.ascii) {
            // Prosody applies strict resourceprep to nicks (Unicode 3.2): retry with the ASCII form.
            puppet.ascii = true;
            puppet.nickAttempt = 0;
            continue;
          }
          throw e;
        }
      }
      throw new PlatformError(ErrorCode.PlatformRejected, `${r.jid}: no acceptable nick for ${puppet.user.userUri}`, {
        retryable: false,
      });
    };
    const joining = run();
    puppet.joining = joining;
    try {
      await joining;
    } finally {
      puppet.joining = undefined;
    }
  }

  /** Give a joined puppet its current best nick (display name change, look-alike newcomer). */
  private async renamePuppet(r: RoomRuntime, puppet: PuppetRuntime): Promise<void> {
    if (!puppet.joined || puppet.nick === undefined) return;
    const { nick, attempt } = this.nickFor(r, puppet);
    if (nick === puppet.nick) return;
    puppet.nickAttempt = attempt;
    this.logger.log(`${r.jid}: puppet '${puppet.nick}' becomes '${nick}'`);
    await this.transport.send(
      buildNickChange({ from: this.puppetFullJid(puppet.user.userUri), to: fullJid(r.jid, nick) }),
    );
  }

  /** Make sure whoever posts as `as` is in the room: the puppet (component) or the relay account. */
  private async ensureSender(r: RoomRuntime, as: RemoteUser, deadline: number): Promise<void> {
    await this.ensureBot(r, deadline);
    if (this.options.mode === 'relay') return;
    const puppet = this.puppetRuntime(r, as);
    if (!r.state.puppets[as.userUri]) {
      r.state.puppets[as.userUri] = { displayName: as.displayName };
      this.state!.changed();
    }
    puppet.removed = false;
    await this.joinPuppet(r, puppet, deadline);
  }

  private async waitOnline(deadline: number): Promise<void> {
    if (this.transport.isOnline) return;
    await this.withDeadline(
      deadline,
      'waiting for the XMPP stream',
      () => new Promise<void>((res) => this.onlineWaiters.add(res)),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Presence

  private onPresence(el: XmlElement): void {
    const from = el.attrs.from ?? '';
    const roomJid = bare(from);
    const r = this.rooms.get(roomJid);
    if (!r || !from.includes('/')) return;
    const p = parseMucPresence(el);
    const to = el.attrs.to ?? '';
    const join = this.pendingJoins.get(`${to}\n${roomJid}`);
    if (p.type === 'error') {
      if (join) join.done.reject(new XmppStanzaError(p.error!, `joining ${roomJid}`));
      else this.logger.warn(`${roomJid}: presence error for ${to}: ${p.error?.condition ?? 'unknown'}`);
      return;
    }
    const isSelf = p.statusCodes.includes(MUC_STATUS.SELF);
    if (join && isSelf && p.type === 'available') join.done.resolve(p);
    if (this.isBotAddress(to)) this.onBotViewPresence(r, p, isSelf);
    else if (isSelf) this.onPuppetSelfPresence(r, to, p);
  }

  /** A puppet's own presence: nick changes and removals. */
  private onPuppetSelfPresence(r: RoomRuntime, to: string, p: ParsedMucPresence): void {
    const userUri = userUriOfPuppetLocalpart(parseJid(to).local);
    const puppet = userUri ? r.puppets.get(userUri) : undefined;
    if (!puppet) return;
    if (p.type === 'available') {
      puppet.nick = p.nick;
      return;
    }
    if (p.statusCodes.includes(MUC_STATUS.NICK_CHANGED) && p.newNick) {
      puppet.nick = p.newNick;
      return;
    }
    puppet.joined = false;
    if (this.isRemoval(p)) {
      puppet.removed = true;
      delete r.state.puppets[puppet.user.userUri];
      this.state!.changed();
    }
  }

  private isRemoval(p: ParsedMucPresence): boolean {
    return [
      MUC_STATUS.BANNED,
      MUC_STATUS.KICKED,
      MUC_STATUS.AFFILIATION_CHANGED,
      MUC_STATUS.MEMBERS_ONLY,
      MUC_STATUS.ERROR_KICK,
    ].some((c) => p.statusCodes.includes(c));
  }

  /** Presence as the bot sees it: the occupant list, membership and role changes. */
  private onBotViewPresence(r: RoomRuntime, p: ParsedMucPresence, isSelf: boolean): void {
    if (isSelf) {
      if (p.type === 'unavailable' && !p.statusCodes.includes(MUC_STATUS.NICK_CHANGED)) {
        r.botJoined = false;
        r.occupants.clear();
        if (this.stopping) return;
        const why = p.destroyed
          ? 'the room was destroyed'
          : p.statusCodes.includes(MUC_STATUS.BANNED)
            ? 'the bridge was banned'
            : p.statusCodes.includes(MUC_STATUS.SHUTDOWN)
              ? 'the MUC service is shutting down'
              : 'the bridge was removed';
        this.logger.error(`${r.jid}: ${why}${p.reason ? ` (${p.reason})` : ''}`);
        if (
          !p.destroyed &&
          !p.statusCodes.includes(MUC_STATUS.BANNED) &&
          !p.statusCodes.includes(MUC_STATUS.SHUTDOWN)
        ) {
          this.later(this.opts.joinTimeoutMs / 3, () => void this.syncRoom(r, this.generation).catch(() => undefined));
        }
        return;
      }
      if (p.type === 'unavailable' && p.newNick) {
        r.occupants.delete(p.nick);
        r.botNick = p.newNick;
        return;
      }
      const me = r.occupants.get(p.nick) ?? { nick: p.nick, own: '' };
      me.affiliation = p.affiliation;
      me.role = p.role;
      me.occupantId = p.occupantId;
      r.occupants.set(p.nick, me);
      return;
    }
    const known = r.occupants.get(p.nick);
    if (p.type === 'unavailable') {
      if (p.statusCodes.includes(MUC_STATUS.NICK_CHANGED) && p.newNick) {
        r.occupants.delete(p.nick);
        if (known) r.occupants.set(p.newNick, { ...known, nick: p.newNick });
        if (known && known.own === undefined) {
          const user = this.occupantUser(r, { ...known, nick: p.newNick }) as LegacyUserRef;
          r.state.occupants[user.userId] = { nick: p.newNick, role: participantRoleOf(known.affiliation, known.role) };
          this.state!.changed();
          this.protectPuppetNicks(r, p.newNick);
        }
        return;
      }
      r.occupants.delete(p.nick);
      if (r.syncing || !known) return;
      if (known.own === '') return;
      const membership: Membership = p.statusCodes.includes(MUC_STATUS.BANNED)
        ? 'ban'
        : [MUC_STATUS.KICKED, MUC_STATUS.AFFILIATION_CHANGED, MUC_STATUS.MEMBERS_ONLY, MUC_STATUS.ERROR_KICK].some(
              (c) => p.statusCodes.includes(c),
            )
          ? 'kick'
          : 'leave';
      if (known.own !== undefined) {
        // Our own puppet: its joins and leaves are the core's doing; a removal by a moderator is news.
        if (membership === 'leave') return;
        const puppet = r.puppets.get(known.own);
        if (puppet) {
          puppet.joined = false;
          puppet.removed = true;
        }
        delete r.state.puppets[known.own];
        this.state!.changed();
      } else {
        const user = this.occupantUser(r, known);
        delete r.state.occupants[(user as LegacyUserRef).userId];
        this.state!.changed();
      }
      this.emitMembership(r, this.occupantUser(r, known), membership, p);
      return;
    }
    // Available: a newcomer or a change of affiliation/role.
    const occupant: Occupant = known ?? { nick: p.nick };
    const before = known ? participantRoleOf(known.affiliation, known.role) : undefined;
    occupant.affiliation = p.affiliation;
    occupant.role = p.role;
    if (p.realJid) occupant.realJid = p.realJid;
    if (p.occupantId) occupant.occupantId = p.occupantId;
    if (occupant.own === undefined) occupant.own = this.ownerOf(r, occupant);
    r.occupants.set(p.nick, occupant);
    if (r.syncing) return;
    const role = participantRoleOf(occupant.affiliation, occupant.role);
    if (occupant.own === '') return;
    const user = this.occupantUser(r, occupant);
    if (occupant.own === undefined) {
      const userId = (user as LegacyUserRef).userId;
      const persisted = r.state.occupants[userId];
      r.state.occupants[userId] = { nick: p.nick, role };
      this.state!.changed();
      if (!known) {
        this.protectPuppetNicks(r, p.nick);
        if (!persisted) {
          this.emitMembership(r, user, 'join', p);
          if (role !== ParticipantRole.Member) this.emitRole(r, user, role, p);
          return;
        }
        if (persisted.role !== role) this.emitRole(r, user, role, p);
        return;
      }
    }
    if (before !== undefined && before !== role) this.emitRole(r, user, role, p);
  }

  /** Which of our users an occupant is (userUri, '' for the bot), from its real JID or occupant-id. */
  private ownerOf(r: RoomRuntime, o: Occupant): string | undefined {
    const expected = r.expectedNicks.get(o.nick);
    if (expected !== undefined) return expected;
    if (o.realJid !== undefined) {
      if (this.isBotJid(o.realJid)) return '';
      const { local, domain } = parseJid(o.realJid);
      if (this.options.mode === 'component' && domain === this.options.componentDomain) {
        return userUriOfPuppetLocalpart(local);
      }
    }
    if (o.occupantId !== undefined) return r.state.ownOccupantIds[o.occupantId];
    for (const [userUri, p] of r.puppets) if (p.nick === o.nick && p.joined) return userUri;
    return undefined;
  }

  /** After a (re)join: report natives who came or left while we were away, and role changes. */
  private reportOccupantDiff(r: RoomRuntime): void {
    const now = new Map<string, { user: LegacyUserRef; nick: string; role: ParticipantRole }>();
    for (const o of r.occupants.values()) {
      if (o.own === undefined) o.own = this.ownerOf(r, o);
      if (o.own !== undefined) continue;
      const user = this.occupantUser(r, o) as LegacyUserRef;
      now.set(user.userId, { user, nick: o.nick, role: participantRoleOf(o.affiliation, o.role) });
    }
    const previous = r.state.occupants;
    for (const [userId, entry] of now) {
      const was = previous[userId];
      if (!was) {
        this.emitMembership(r, entry.user, 'join');
        if (entry.role !== ParticipantRole.Member) this.emitRole(r, entry.user, entry.role);
      } else if (was.role !== entry.role) {
        this.emitRole(r, entry.user, entry.role);
      }
    }
    for (const [userId, was] of Object.entries(previous)) {
      if (!now.has(userId)) {
        this.emitMembership(r, { platform: Platform.Xmpp, userId, displayName: was.nick }, 'leave');
      }
    }
    r.state.occupants = Object.fromEntries([...now].map(([id, e]) => [id, { nick: e.nick, role: e.role }]));
    this.state!.changed();
  }

  /** A native occupant now uses a nick that looks like a puppet's: the puppet moves aside, visibly. */
  private protectPuppetNicks(r: RoomRuntime, nativeNick: string): void {
    if (this.options.mode !== 'component') return;
    const skeleton = nickSkeleton(nativeNick);
    for (const puppet of r.puppets.values()) {
      if (!puppet.joined || puppet.nick === undefined || nickSkeleton(puppet.nick) !== skeleton) continue;
      puppet.nickAttempt += 1;
      void this.renamePuppet(r, puppet).catch((e: unknown) =>
        this.logger.warn(`${r.jid}: renaming puppet '${puppet.nick ?? ''}' failed: ${errorMessage(e)}`),
      );
    }
  }

  private emitMembership(
    r: RoomRuntime,
    user: LegacyUserRef | RemoteUser,
    membership: Membership,
    p?: ParsedMucPresence,
  ): void {
    const by = p?.actorJid
      ? this.userOfJid(p.actorJid, p.actorNick)
      : p?.actorNick
        ? this.occupantUserByNick(r, p.actorNick)
        : undefined;
    this.deliver(r, [
      {
        kind: 'membership',
        room: this.ref(r.jid),
        platformEventId: `xmpp-presence:${randomUUID()}`,
        user,
        membership,
        ...(by && !('userUri' in by) ? { by } : {}),
        ...(p?.reason ? { reason: p.reason } : {}),
        timestamp: Date.now(),
      },
    ]);
  }

  private emitRole(
    r: RoomRuntime,
    user: LegacyUserRef | RemoteUser,
    role: ParticipantRole,
    p?: ParsedMucPresence,
  ): void {
    const by = p?.actorNick ? this.occupantUserByNick(r, p.actorNick) : undefined;
    this.deliver(r, [
      {
        kind: 'role',
        room: this.ref(r.jid),
        platformEventId: `xmpp-presence:${randomUUID()}`,
        user,
        role,
        ...(by && !('userUri' in by) ? { by } : {}),
        timestamp: Date.now(),
      },
    ]);
  }

  // -------------------------------------------------------------------------------------------
  // Messages

  private onMessage(el: XmlElement): void {
    const type = el.attrs.type ?? 'normal';
    const to = el.attrs.to ?? '';
    const mam = parseMamResult(el);
    if (mam) {
      const collector = this.mamQueries.get(mam.queryId);
      if (collector && bare(el.attrs.from ?? collector.room) === collector.room) {
        collector.items.push({ archiveId: mam.archiveId, stamp: mam.stamp, message: mam.message });
      }
      return;
    }
    if (type === 'error') return this.onMessageError(el);
    const roomJid = bare(el.attrs.from ?? '');
    const r = this.rooms.get(roomJid);
    if (type === 'groupchat') {
      if (!r) return;
      if (!this.isBotAddress(to)) {
        // A puppet's copy: only used to accept its own post early.
        const p = parseGroupchat(el);
        if (p.originId !== undefined && p.stanzaId !== undefined) {
          this.acceptPost(r, p.originId, p.stanzaId, p.delayedAt);
        }
        return;
      }
      if (r.catchingUp) {
        r.buffered.push(() => this.onGroupchat(r, el, undefined));
        return;
      }
      this.onGroupchat(r, el, undefined);
      return;
    }
    if (r) {
      const invite = el.getChild('x', NS.MUC_USER)?.getChild('invite');
      if (invite) this.onMediatedInvite(r, el, invite);
      return;
    }
    // Direct messages to a puppet or the bot. Never bounce anything coming from a MUC: a MUC
    // removes occupants whose client bounces errors (Prosody: status 333).
    if (!el.getChild('body')) return;
    void this.transport
      .send(
        buildErrorReply(
          el,
          'cancel',
          'service-unavailable',
          'Direct messages are not bridged to MIMI; write in the bridged room.',
        ),
      )
      .catch(() => undefined);
  }

  /**
   * XEP-0045 §7.8.2: an occupant invited one of our puppets through the room (the MUC checked that
   * the inviter may invite and forwards `<invite from='inviter'/>` to the invitee). This is how an
   * XMPP user adds a MIMI user: reported as an `invite` of that RemoteUser, by the inviter. Relay
   * mode has no per-user addresses, so nothing can be invited there.
   */
  private onMediatedInvite(r: RoomRuntime, el: XmlElement, invite: XmlElement): void {
    if (this.options.mode !== 'component') return;
    const { local, domain } = parseJid(el.attrs.to ?? '');
    if (domain !== this.options.componentDomain!.toLowerCase()) return;
    const userUri = userUriOfPuppetLocalpart(local);
    const inviter = invite.attrs.from;
    if (userUri === undefined || inviter === undefined) return;
    // Prosody names the inviter by real JID; a room that hides it gives room@service/nick.
    const by = bare(inviter) === r.jid ? this.occupantUserByNick(r, resourceOf(inviter)) : this.userOfJid(inviter);
    if ('userUri' in by) return; // our own puppets do not invite
    const reason = invite.getChildText('reason') ?? undefined;
    this.deliver(r, [
      {
        kind: 'membership',
        room: this.ref(r.jid),
        platformEventId: `xmpp-invite:${r.jid}/${el.attrs.id ?? randomUUID()}`,
        user: { userUri },
        membership: 'invite',
        by,
        ...(reason ? { reason } : {}),
        timestamp: Date.now(),
      },
    ]);
  }

  /** The MUC refused one of our messages (XEP-0045 §7.4: not an occupant; §8.4: no voice). */
  private onMessageError(el: XmlElement): void {
    const id = el.attrs.id;
    const pending = id !== undefined ? this.pendingPosts.get(id) : undefined;
    if (!pending) return;
    const error = parseStanzaError(el)!;
    const r = this.rooms.get(pending.room);
    if (error.condition === 'not-acceptable' && r) {
      // We were not an occupant (the room restarted without telling us): rejoin, send again.
      this.logger.warn(`${r.jid}: ${pending.originId} refused as non-occupant; rejoining`);
      pending.sentGeneration = undefined;
      const puppet = r.puppets.get(pending.user.userUri);
      if (puppet) puppet.joined = false;
      if (this.options.mode === 'relay') r.botJoined = false;
      void this.ensureSender(r, pending.user, Date.now() + this.opts.joinTimeoutMs)
        .then(async () => {
          if (pending.sentGeneration === undefined) {
            pending.sentGeneration = this.generation;
            await this.transport.send(pending.stanza);
          }
        })
        .catch((e: unknown) => {
          this.pendingPosts.delete(pending.originId);
          pending.done.reject(e);
        });
      return;
    }
    this.pendingPosts.delete(pending.originId);
    const err = new XmppStanzaError(error, `${pending.room} refused the message`);
    pending.done.reject(
      new PlatformError(err.code, err.message, {
        retryable: err.retryable,
        humanMessage: error.condition === 'forbidden' ? 'You may not speak in this XMPP room.' : undefined,
      }),
    );
  }

  /** A reflection with one of our origin-ids: the post is accepted. */
  private acceptPost(r: RoomRuntime, originId: string, stanzaId: string, at?: number): RemoteUser | undefined {
    const pending = this.pendingPosts.get(originId);
    if (!pending || pending.room !== r.jid) return undefined;
    this.pendingPosts.delete(originId);
    const result: PostResult = { platformEventId: stanzaId, echoKeys: [originId], acceptedAt: at ?? Date.now() };
    this.state!.recordPosted(r.jid, originId, { stanzaId, userUri: pending.user.userUri, at: result.acceptedAt });
    pending.onAccepted?.(result);
    pending.done.resolve(result);
    return pending.user;
  }

  private releaseBuffered(r: RoomRuntime): void {
    r.catchingUp = false;
    const buffered = r.buffered;
    r.buffered = [];
    for (const run of buffered) {
      try {
        run();
      } catch (e) {
        this.logger.warn(`${r.jid}: a buffered message failed: ${errorMessage(e)}`);
      }
    }
  }

  /** One groupchat message from the bot's view (live, or replayed from the archive). */
  private onGroupchat(
    r: RoomRuntime,
    el: XmlElement,
    archived: { archiveId: string; stamp?: number } | undefined,
  ): void {
    const parsed = parseGroupchat(el);
    const p: ParsedGroupchat = archived
      ? { ...parsed, stanzaId: archived.archiveId, delayedAt: archived.stamp ?? parsed.delayedAt }
      : parsed;
    const platformEventId =
      p.stanzaId ??
      `xmpp:${r.jid}:${p.occupantId ?? p.nick}:${p.id ?? createHash('sha256').update(el.toString()).digest('hex').slice(0, 16)}`;
    if (r.delivered.has(platformEventId)) return;
    const timestamp = p.delayedAt ?? Date.now();
    if (p.stanzaId !== undefined) {
      r.refs.set(p.stanzaId, { stanzaId: p.stanzaId, messageId: p.id, nick: p.nick, text: p.body });
      if (p.id !== undefined) r.byMessageId.set(p.id, p.stanzaId);
      if (p.originId !== undefined) r.byMessageId.set(p.originId, p.stanzaId);
    }
    if (p.nick === '') {
      // From the room itself: only the subject matters.
      this.onSubject(r, p, platformEventId, timestamp);
      return;
    }
    const sender = this.senderOf(r, p);
    let echoUser: RemoteUser | undefined;
    if (sender !== 'bot' && 'userUri' in sender) echoUser = sender;
    if (p.originId !== undefined && p.stanzaId !== undefined) {
      const accepted = this.acceptPost(r, p.originId, p.stanzaId, p.delayedAt);
      if (accepted) echoUser = accepted;
      const ownPost = echoUser !== undefined || (sender === 'bot' && this.isPostOriginId(p.originId));
      if (ownPost && !r.state.posted[p.originId]) {
        // Seen again after a restart (archive replay): remember it, so a retried post is not sent twice.
        this.state!.recordPosted(r.jid, p.originId, {
          stanzaId: p.stanzaId,
          userUri: echoUser?.userUri ?? '',
          at: timestamp,
        });
      }
    }
    if (echoUser === undefined && sender === 'bot') return; // our own notices, or a post whose author we lost
    const content = mapInbound(p, {
      byMessageId: (id) => r.byMessageId.get(id) ?? id,
      byStanzaId: (id) => id,
      isAllowedUrl: (url) => isAllowedAttachmentUrl(url, this.attachmentHosts),
    });
    const room = this.ref(r.jid);
    const from: LegacyUserRef | RemoteUser = echoUser ?? (sender as LegacyUserRef);
    const echoKeys = echoUser && p.originId !== undefined ? { echoKeys: [p.originId] } : {};
    const events: InboundEvent[] = [];
    switch (content.kind) {
      case 'none':
        break;
      case 'subject':
        this.onSubject(r, p, platformEventId, timestamp);
        return;
      case 'reactions': {
        const ledger = new InboundReactionLedger(r.state.reactionsIn);
        const senderKey = echoUser ? echoUser.userUri : (from as LegacyUserRef).userId;
        const changes = ledger.apply(senderKey, content.target, content.emojis, platformEventId);
        this.state!.changed();
        changes.forEach((c, n) => {
          events.push({
            kind: 'message',
            room,
            platformEventId: c.type === 'react' ? c.eventId : `${platformEventId}#u${n}`,
            sender: from,
            action:
              c.type === 'react'
                ? { type: 'react', target: { platformEventId: content.target }, key: c.key }
                : { type: 'unreact', reaction: { platformEventId: c.reactionEventId } },
            timestamp,
            ...echoKeys,
          });
        });
        break;
      }
      case 'action': {
        let action = content.action;
        if (this.options.mode === 'relay' && echoUser && (action.type === 'post' || action.type === 'edit')) {
          const author = echoUser.displayName ?? userUriLocalName(echoUser.userUri);
          action = { ...action, body: { ...action.body, ...stripRelayPrefix(action.body.text, author) } };
        }
        events.push({ kind: 'message', room, platformEventId, sender: from, action, timestamp, ...echoKeys });
        break;
      }
    }
    this.deliver(
      r,
      events,
      p.stanzaId !== undefined ? { stanzaId: p.stanzaId, at: timestamp } : undefined,
      platformEventId,
    );
  }

  private onSubject(r: RoomRuntime, p: ParsedGroupchat, platformEventId: string, timestamp: number): void {
    if (p.subject === undefined || p.subject === r.state.subject) return;
    if (r.state.subject === undefined && p.subject === '') return;
    r.state.subject = p.subject;
    this.state!.changed();
    this.deliver(r, [{ kind: 'roomMetadata', room: this.ref(r.jid), platformEventId, topic: p.subject, timestamp }]);
  }

  /** Origin-ids of posts (not of the bot's notices) have this shape (originIdFor). */
  private isPostOriginId(originId: string): boolean {
    return /^mimi-[A-Za-z0-9_-]{22}$/.test(originId);
  }

  /** Who wrote a groupchat message: 'bot', one of our MIMI users, or a native occupant. */
  private senderOf(r: RoomRuntime, p: ParsedGroupchat): LegacyUserRef | RemoteUser | 'bot' {
    if (p.nick === r.botNick && this.options.mode === 'component') return 'bot';
    const occupant = r.occupants.get(p.nick);
    let own = occupant?.own;
    if (own === undefined && p.occupantId !== undefined) own = r.state.ownOccupantIds[p.occupantId];
    if (own === undefined && p.realJid !== undefined) own = this.ownerOf(r, { nick: p.nick, realJid: p.realJid });
    if (own === undefined && p.originId !== undefined && this.options.mode === 'component') {
      own = r.state.posted[p.originId]?.userUri;
    }
    if (own === '') return this.options.mode === 'relay' ? this.relayEcho(r, p) : 'bot';
    if (own !== undefined) {
      const puppet = r.puppets.get(own);
      return { userUri: own as UserUri, displayName: puppet?.user.displayName };
    }
    if (this.options.mode === 'relay' && p.nick === r.botNick) return this.relayEcho(r, p);
    const realJid = occupant?.realJid ?? p.realJid;
    return {
      platform: Platform.Xmpp,
      userId: realJid ?? fullJid(r.jid, p.nick),
      displayName: p.nick,
    };
  }

  /** Relay mode: a message from our own account is a MIMI user's post (by origin-id) or our own notice. */
  private relayEcho(r: RoomRuntime, p: ParsedGroupchat): RemoteUser | 'bot' {
    const pending = p.originId !== undefined ? this.pendingPosts.get(p.originId) : undefined;
    if (pending) return pending.user;
    const posted = p.originId !== undefined ? r.state.posted[p.originId] : undefined;
    if (posted?.userUri) return { userUri: posted.userUri as UserUri, displayName: p.nickHint };
    return 'bot';
  }

  // -------------------------------------------------------------------------------------------
  // Archive replay (XEP-0313)

  private async discoverRoom(r: RoomRuntime): Promise<void> {
    try {
      const info = parseDiscoInfo(
        await this.iq(buildDiscoInfoGet({ from: this.botFrom(), to: r.jid, id: randomUUID() })),
      );
      r.mamSupported = info.features.includes(NS.MAM);
      r.name = info.identities.find((i) => i.category === 'conference')?.name ?? r.name;
      if (!r.mamSupported) {
        this.logger.warn(`${r.jid}: no XEP-0313 archive; messages sent while the bridge is away are lost`);
      }
    } catch (e) {
      this.logger.warn(`${r.jid}: disco#info failed: ${errorMessage(e)}`);
    }
  }

  /** Replay the archive after the cursor, in order; with no cursor, start it at the newest message. */
  private async catchUp(r: RoomRuntime): Promise<void> {
    if (r.mamSupported === undefined) await this.discoverRoom(r);
    if (!r.mamSupported) return;
    const cursor = r.state.cursor;
    if (!cursor) {
      const page = await this.mamPage(r, { before: '', max: 1 });
      const last = page.items[page.items.length - 1];
      if (last) {
        r.state.cursor = { stanzaId: last.archiveId, at: last.stamp ?? Date.now() };
        this.state!.changed();
      }
      return;
    }
    let after = cursor.stanzaId;
    let byTime = false;
    let replayed = 0;
    for (;;) {
      let page: Awaited<ReturnType<XmppBridge['mamPage']>>;
      try {
        page = byTime
          ? await this.mamPage(r, {
              start: new Date(cursor.at - 1000),
              max: MAM_PAGE,
              after: after === cursor.stanzaId ? undefined : after,
            })
          : await this.mamPage(r, { after, max: MAM_PAGE });
      } catch (e) {
        if (!byTime && e instanceof XmppStanzaError && e.info.condition === 'item-not-found') {
          // The cursor left the archive (expired): replay by time instead; the core drops what it has.
          this.logger.warn(`${r.jid}: archive cursor ${cursor.stanzaId} unknown; replaying by time`);
          byTime = true;
          continue;
        }
        throw e;
      }
      for (const item of page.items) {
        replayed += 1;
        try {
          this.onGroupchat(r, item.message, { archiveId: item.archiveId, stamp: item.stamp });
        } catch (e) {
          this.logger.warn(`${r.jid}: archived message ${item.archiveId} skipped: ${errorMessage(e)}`);
        }
      }
      const last = page.items[page.items.length - 1];
      if (page.complete || !last) break;
      after = last.archiveId;
    }
    if (replayed > 0) this.logger.log(`${r.jid}: replayed ${replayed} archived message(s)`);
  }

  private async mamPage(
    r: RoomRuntime,
    q: { after?: string; before?: string; start?: Date; max: number },
  ): Promise<{ complete: boolean; items: MamCollector['items'] }> {
    const queryId = randomUUID();
    const collector: MamCollector = { room: r.jid, items: [] };
    this.mamQueries.set(queryId, collector);
    try {
      const res = await this.iq(buildMamQuery({ from: this.botFrom(), to: r.jid, id: randomUUID(), queryId, ...q }));
      return { complete: parseMamFin(res).complete, items: collector.items };
    } finally {
      this.mamQueries.delete(queryId);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Delivery to the core

  /**
   * Hand events to the sink in room order. An event the sink refuses is retried with backoff
   * without holding up the ones after it; the archive cursor stays before it until it is recorded.
   */
  private deliver(
    r: RoomRuntime,
    events: InboundEvent[],
    cursor?: { stanzaId: string; at: number },
    dedupeId?: string,
  ): void {
    if (dedupeId !== undefined) r.delivered.set(dedupeId, true);
    r.queue = r.queue.then(async () => {
      let ok = true;
      for (const event of events) {
        try {
          await this.sink!(event);
        } catch (e) {
          ok = false;
          this.logger.warn(`${r.jid}: the core refused ${event.platformEventId}: ${errorMessage(e)}; retrying`);
          this.retryLater(r, event, cursor?.stanzaId, 1);
        }
      }
      if (cursor) {
        r.cursor.done(cursor.stanzaId, cursor.at, ok);
      }
    });
  }

  private retryLater(r: RoomRuntime, event: InboundEvent, cursorId: string | undefined, attempt: number): void {
    if (this.stopping) return;
    if (attempt > this.opts.sinkRetryAttempts) {
      this.logger.error(
        `${r.jid}: giving up on ${event.platformEventId} after ${attempt - 1} retries; it is replayed from the archive after the next reconnection`,
      );
      return;
    }
    const delay = this.opts.sinkRetryInitialMs * 2 ** (attempt - 1);
    this.later(delay, () => {
      r.queue = r.queue.then(async () => {
        try {
          await this.sink!(event);
          if (cursorId !== undefined) r.cursor.retried(cursorId);
        } catch (e) {
          this.logger.warn(`${r.jid}: retry ${attempt} of ${event.platformEventId} refused: ${errorMessage(e)}`);
          this.retryLater(r, event, cursorId, attempt + 1);
        }
      });
    });
  }

  // -------------------------------------------------------------------------------------------
  // Self-ping (XEP-0410)

  private async selfPingAll(): Promise<void> {
    if (!this.transport.isOnline) return;
    for (const r of this.rooms.values()) {
      if (!r.botJoined || r.botNick === undefined) continue;
      try {
        await this.iq(buildPing({ from: this.botFrom(), to: fullJid(r.jid, r.botNick), id: randomUUID() }));
      } catch (e) {
        // XEP-0410 §3.2: these conditions mean we are no longer an occupant.
        if (
          e instanceof XmppStanzaError &&
          ['not-acceptable', 'item-not-found', 'not-allowed'].includes(e.info.condition)
        ) {
          this.logger.warn(`${r.jid}: self-ping says the bridge left the room; rejoining`);
          r.botJoined = false;
          void this.syncRoom(r, this.generation).catch((err: unknown) =>
            this.logger.error(`${r.jid}: rejoin failed: ${errorMessage(err)}`),
          );
        }
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  private ref(jid: string): LegacyRoomRef {
    return { platform: Platform.Xmpp, roomId: jid };
  }

  private roomRuntime(jid: string): RoomRuntime {
    let r = this.rooms.get(jid);
    if (!r) {
      r = new RoomRuntime(jid, this.state!.room(jid), () => this.state!.changed());
      this.rooms.set(jid, r);
      this.state!.changed();
      for (const [userUri, p] of Object.entries(r.state.puppets)) {
        this.puppetRuntime(r, { userUri: userUri as UserUri, displayName: p.displayName });
      }
    }
    return r;
  }

  /** The runtime of a room the core addresses; a new room is joined on first use. */
  private linkedRoom(room: LegacyRoomRef): RoomRuntime {
    if (!this.started || this.stopping) {
      throw new PlatformError(ErrorCode.PlatformUnavailable, 'XMPP bridge not started');
    }
    if (room.platform !== Platform.Xmpp || !isBareJidWithLocal(room.roomId)) {
      throw new PlatformError(ErrorCode.PlatformRejected, `not a MUC JID: ${room.platform}:${room.roomId}`, {
        retryable: false,
      });
    }
    return this.roomRuntime(bare(room.roomId));
  }

  private botBareJid(): string {
    if (this.options.mode === 'component') return `${BOT_LOCALPART}@${this.options.componentDomain!}`;
    return bare(this.transport.address ?? '');
  }

  /** `from` of the bot's stanzas: its full JID on the component; omitted on a client stream. */
  private botFrom(): string | undefined {
    return this.options.mode === 'component' ? `${this.botBareJid()}/${COMPONENT_RESOURCE}` : undefined;
  }

  private isBotJid(jid: string): boolean {
    return bare(jid) === this.botBareJid();
  }

  private isBotAddress(to: string): boolean {
    if (this.options.mode === 'relay') return true;
    return bare(to) === this.botBareJid();
  }

  private puppetFullJid(userUri: string): string {
    return `${puppetJid(userUri, this.options.componentDomain!)}/${COMPONENT_RESOURCE}`;
  }

  private occupantUser(r: RoomRuntime, o: Occupant): LegacyUserRef | RemoteUser {
    if (o.own) {
      const puppet = r.puppets.get(o.own);
      return { userUri: o.own as UserUri, displayName: puppet?.user.displayName };
    }
    return { platform: Platform.Xmpp, userId: o.realJid ?? fullJid(r.jid, o.nick), displayName: o.nick };
  }

  private occupantUserByNick(r: RoomRuntime, nick: string): LegacyUserRef | RemoteUser {
    const o = r.occupants.get(nick);
    return o ? this.occupantUser(r, o) : { platform: Platform.Xmpp, userId: fullJid(r.jid, nick), displayName: nick };
  }

  private userOfJid(jid: string, nick?: string): LegacyUserRef | RemoteUser {
    const { local, domain } = parseJid(jid);
    if (this.options.mode === 'component' && domain === this.options.componentDomain) {
      const userUri = userUriOfPuppetLocalpart(local);
      if (userUri) return { userUri };
    }
    return { platform: Platform.Xmpp, userId: bare(jid), ...(nick ? { displayName: nick } : {}) };
  }

  private userKey(user: LegacyUserRef | RemoteUser): string {
    return 'userUri' in user ? user.userUri : user.userId;
  }

  /** Nick and real JID of a port user in `r`, as far as known. */
  private resolveTarget(r: RoomRuntime, user: LegacyUserRef | RemoteUser): { nick?: string; jid?: string } {
    if ('userUri' in user) {
      if (this.options.mode === 'relay') return {};
      return { nick: r.puppets.get(user.userUri)?.nick, jid: puppetJid(user.userUri, this.options.componentDomain!) };
    }
    const id = user.userId;
    if (bare(id) === r.jid) {
      const nick = resourceOf(id);
      return { nick, jid: r.occupants.get(nick)?.realJid };
    }
    const jid = bare(id);
    return { jid, nick: r.occupantByRealJid(jid)?.nick };
  }

  private describe(user: LegacyUserRef | RemoteUser): string {
    return 'userUri' in user ? user.userUri : user.userId;
  }

  private async sendQuietly(el: XmlElement): Promise<void> {
    try {
      await this.transport.send(el);
    } catch (e) {
      this.logger.debug(`send failed: ${errorMessage(e)}`);
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Run `fn`, rejecting with a retryable Timeout at `deadline`. */
  private async withDeadline<T>(deadline: number, what: string, fn: () => Promise<T>): Promise<T> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new PlatformError(ErrorCode.Timeout, `${what}: timed out`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new PlatformError(ErrorCode.Timeout, `${what}: timed out after ${remaining} ms`)),
        remaining,
      );
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (e) {
      if (e instanceof GatewayError) throw e;
      throw new PlatformError(ErrorCode.PlatformUnavailable, `${what}: ${errorMessage(e)}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }
}
