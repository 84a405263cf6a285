import { randomUUID } from 'node:crypto';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { Platform, type RoomUri } from '../../src/common/ids';
import {
  type AbuseReportNotice,
  BridgeHost,
  InboundEvent,
  InboundSink,
  JoinRule,
  LegacyRoomRef,
  LegacyUserRef,
  MessageAction,
  ParticipantRole,
  PlatformBridge,
  PuppetMembership,
  Moderation,
  Roles,
  MirrorRooms,
  JoinRules,
  PlatformMessageRef,
  PostOptions,
  RemoteUser,
  RoomDetails,
  RoomPermissions,
  RoomSnapshot,
  UserLookup,
} from '../../src/ports';
import type { EchoKeyedInboundEvent, EchoKeyedPostResult } from '../../bridges/kit/echo-keys';

/**
 * An in-memory legacy platform for the core's tests: behaves like a real chat platform as far
 * as the PlatformBridge contract goes. Posts get an event ID, and (like Matrix and a MUC) the
 * accepted event comes back to the sink as an echo, asynchronously, carrying the echo keys.
 *
 * Knobs let tests make the platform unavailable, slow, or reject posts.
 */
export interface MemoryRoom {
  readonly roomId: string;
  name?: string;
  topic?: string;
  /** `invite` unless a test opens the room (MIMI users of other providers may then join it by external commit). */
  joinRule?: JoinRule;
  /** What each role may do, as the bridge reports it in snapshots (absent: the core's defaults). */
  permissions?: RoomPermissions;
  readonly members: Map<string, { user: LegacyUserRef | RemoteUser; role: ParticipantRole }>;
  /** Every accepted event, in platform order. */
  readonly timeline: InboundEvent[];
  /** Set by closeMirrorRoom: what the room says, and that its users are no longer offered to post. */
  closedNotice?: string;
}

export const GHOST_PREFIX = 'ghost:';
/** Room IDs of mirror rooms (follower mode) are this prefix + the MIMI room URI. */
export const MIRROR_PREFIX = 'mirror:';

export class MemoryPlatform
  implements PlatformBridge, PuppetMembership, Moderation, Roles, MirrorRooms, JoinRules, RoomDetails
{
  readonly platform = Platform.Memory;
  readonly rooms = new Map<string, MemoryRoom>();
  /** Failure injection: when set, every call rejects with this error. */
  failWith?: PlatformError;
  /** Delay before a post is accepted (ms). */
  postDelayMs = 0;
  /** Delay before the echo of an accepted post reaches the sink (ms). */
  echoDelayMs = 0;
  readonly notices: { room: string; about: string; text: string }[] = [];
  /** The latest calls of `post` (up to 1000), answered or not: what and with which options. */
  readonly postCalls: { readonly action: MessageAction; readonly opts: PostOptions }[] = [];
  /** Echoes the sink rejected (a real platform would redeliver them). */
  readonly refusedEchoes: { event: InboundEvent; error: unknown }[] = [];
  private sink?: InboundSink;
  private readonly postsByKey = new Map<string, EchoKeyedPostResult>();
  private readonly pendingEchoes = new Set<Promise<void>>();
  private seq = 0;

  /** The host the core passed to start (in-room commands go there). */
  host?: BridgeHost;
  /** Users found by address (`UserDirectory`): handle → user ID. Other handles are not ours. */
  readonly users = new Map<string, string>();

  async start(sink: InboundSink, host?: BridgeHost): Promise<void> {
    this.throwIfFailing();
    this.sink = sink;
    this.host = host;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.pendingEchoes]);
    this.sink = undefined;
  }

  createRoom(roomId: string, name?: string): MemoryRoom {
    const room: MemoryRoom = { roomId, name, members: new Map(), timeline: [] };
    this.rooms.set(roomId, room);
    return room;
  }

  ghostId(user: RemoteUser): string {
    return `${GHOST_PREFIX}${user.userUri}`;
  }

  isOwnUser(userId: string): boolean {
    return userId.startsWith(GHOST_PREFIX);
  }

  /** `UserDirectory`: a handle of `users` (nick: the user ID itself). */
  async lookupUser(search: { readonly type: 'handle' | 'nick'; readonly value: string }): Promise<UserLookup> {
    this.throwIfFailing();
    const userId =
      search.type === 'handle'
        ? this.users.get(search.value)
        : [...this.users.values()].find((u) => u === search.value);
    if (userId !== undefined) return { kind: 'found', userId };
    return search.value.startsWith('memory:')
      ? { kind: 'notFound', reason: 'no such memory user' }
      : { kind: 'notMine' };
  }

  /** A native user does something in a room: the event goes to the sink like a real platform's would. */
  async emitLocal(
    roomId: string,
    sender: LegacyUserRef,
    action: MessageAction,
    platformEventId = this.nextEventId(),
  ): Promise<string> {
    const event: InboundEvent = {
      kind: 'message',
      room: this.ref(roomId),
      platformEventId,
      sender,
      action,
      timestamp: Date.now(),
    };
    this.roomOrThrow(roomId).timeline.push(event);
    await this.deliverToSink(event);
    return platformEventId;
  }

  /** Feed any event (membership, role, metadata) to the sink as the platform would. */
  async emitEvent(event: InboundEvent): Promise<void> {
    this.roomOrThrow(event.room.roomId).timeline.push(event);
    await this.deliverToSink(event);
  }

  async post(
    room: LegacyRoomRef,
    as: RemoteUser,
    action: MessageAction,
    opts: PostOptions,
  ): Promise<EchoKeyedPostResult> {
    this.postCalls.push({ action, opts });
    if (this.postCalls.length > 1000) this.postCalls.shift();
    this.throwIfFailing();
    const known = this.postsByKey.get(opts.idempotencyKey);
    if (known) return known;
    const r = this.roomOrThrow(room.roomId);
    const ghost = this.ghostId(as);
    if (!r.members.has(ghost)) r.members.set(ghost, { user: as, role: ParticipantRole.Member });
    if (this.postDelayMs > opts.timeoutMs) {
      throw new PlatformError(ErrorCode.Timeout, `platform did not accept within ${opts.timeoutMs} ms`);
    }
    if (this.postDelayMs > 0) await new Promise((res) => setTimeout(res, this.postDelayMs));
    const echoKey = `txn-${opts.idempotencyKey}`;
    const result: EchoKeyedPostResult = {
      platformEventId: this.nextEventId(),
      echoKeys: [echoKey],
      acceptedAt: Date.now(),
    };
    this.postsByKey.set(opts.idempotencyKey, result);
    const echo: EchoKeyedInboundEvent = {
      kind: 'message',
      room: this.ref(room.roomId),
      platformEventId: result.platformEventId,
      sender: as,
      action,
      timestamp: result.acceptedAt,
      echoKeys: result.echoKeys,
    };
    r.timeline.push(echo);
    // An echo the sink refuses is kept for the test to inspect, as a platform would keep retrying it.
    const p = new Promise<void>((res) => setTimeout(res, this.echoDelayMs))
      .then(() => this.deliverToSink(echo))
      .catch((e: unknown) => void this.refusedEchoes.push({ event: echo, error: e }));
    this.pendingEchoes.add(p);
    void p.finally(() => this.pendingEchoes.delete(p));
    return result;
  }

  /** Follower mode: the mirror of `roomUri` is the room `mirror:<roomUri>` (created once). */
  async createMirrorRoom(roomUri: RoomUri, opts: { name?: string }): Promise<LegacyRoomRef> {
    this.throwIfFailing();
    const roomId = `${MIRROR_PREFIX}${roomUri}`;
    if (!this.rooms.has(roomId)) this.createRoom(roomId, opts.name);
    return this.ref(roomId);
  }

  async setMembership(room: LegacyRoomRef, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    this.throwIfFailing();
    const r = this.roomOrThrow(room.roomId);
    if (membership === 'join') r.members.set(this.ghostId(user), { user, role: ParticipantRole.Member });
    else r.members.delete(this.ghostId(user));
  }

  async moderate(
    room: LegacyRoomRef,
    target: LegacyUserRef | RemoteUser,
    action: 'kick' | 'ban' | 'unban',
  ): Promise<void> {
    this.throwIfFailing();
    const r = this.roomOrThrow(room.roomId);
    const id = this.idOf(target);
    if (action === 'ban') r.members.set(id, { user: target, role: ParticipantRole.Banned });
    else r.members.delete(id);
  }

  async setRole(room: LegacyRoomRef, user: LegacyUserRef | RemoteUser, role: ParticipantRole): Promise<void> {
    this.throwIfFailing();
    this.roomOrThrow(room.roomId).members.set(this.idOf(user), { user, role });
  }

  async setProfile(_user: RemoteUser): Promise<void> {
    this.throwIfFailing();
  }

  async joinRule(room: LegacyRoomRef): Promise<JoinRule> {
    this.throwIfFailing();
    return this.roomOrThrow(room.roomId).joinRule ?? 'invite';
  }

  async getRoomSnapshot(room: LegacyRoomRef): Promise<RoomSnapshot> {
    this.throwIfFailing();
    const r = this.roomOrThrow(room.roomId);
    return {
      room,
      name: r.name,
      topic: r.topic,
      members: [...r.members.values()],
      joinRule: r.joinRule ?? 'invite',
      ...(r.permissions ? { permissions: r.permissions } : {}),
    };
  }

  async setRoomDetails(room: LegacyRoomRef, details: { name?: string; topic?: string }): Promise<void> {
    this.throwIfFailing();
    const r = this.roomOrThrow(room.roomId);
    if (details.name !== undefined) r.name = details.name;
    if (details.topic !== undefined) r.topic = details.topic;
  }

  /** Abuse reports delivered to a room's moderators (`AbuseReporting`). */
  readonly abuseReports: { room: string; report: AbuseReportNotice }[] = [];
  /** Consent questions asked of native users (`ConsentPrompts`), and what they answer. */
  readonly consentAsks: { user: string; requester: string; roomUri?: string }[] = [];
  consentAnswer: 'grant' | 'deny' | undefined = undefined;

  async reportAbuse(room: LegacyRoomRef, report: AbuseReportNotice): Promise<void> {
    this.throwIfFailing();
    this.roomOrThrow(room.roomId);
    this.abuseReports.push({ room: room.roomId, report });
  }

  async askConsent(user: LegacyUserRef, requester: string, roomUri?: string): Promise<'grant' | 'deny' | undefined> {
    this.throwIfFailing();
    this.consentAsks.push({ user: user.userId, requester, ...(roomUri === undefined ? {} : { roomUri }) });
    return this.consentAnswer;
  }

  async closeMirrorRoom(room: LegacyRoomRef, notice: string): Promise<void> {
    this.throwIfFailing();
    const r = this.roomOrThrow(room.roomId);
    if (r.closedNotice !== undefined) return;
    r.closedNotice = notice;
    this.notices.push({ room: room.roomId, about: '', text: notice });
  }

  async notifyFailure(room: LegacyRoomRef, about: PlatformMessageRef, humanMessage: string): Promise<void> {
    this.notices.push({ room: room.roomId, about: about.platformEventId, text: humanMessage });
  }

  private idOf(user: LegacyUserRef | RemoteUser): string {
    return 'userUri' in user ? this.ghostId(user) : user.userId;
  }

  private ref(roomId: string): LegacyRoomRef {
    return { platform: Platform.Memory, roomId };
  }

  private roomOrThrow(roomId: string): MemoryRoom {
    const r = this.rooms.get(roomId);
    if (!r) throw new PlatformError(ErrorCode.PlatformRejected, `no such room ${roomId}`, { retryable: false });
    return r;
  }

  private throwIfFailing(): void {
    if (this.failWith) throw this.failWith;
  }

  private nextEventId(): string {
    this.seq += 1;
    return `$mem-${this.seq}-${randomUUID().slice(0, 8)}`;
  }

  private async deliverToSink(event: InboundEvent): Promise<void> {
    if (!this.sink) throw new PlatformError(ErrorCode.PlatformUnavailable, 'bridge not started');
    await this.sink(event);
  }
}
