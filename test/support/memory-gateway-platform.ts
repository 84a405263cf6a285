/**
 * A MemoryPlatform that survives its process: every change (rooms, members, timeline events,
 * idempotent posts, acknowledgements by the gateway) is appended to a JSON-lines journal and
 * replayed on start, so that a gateway process stopped or SIGKILLed and started again finds the
 * same legacy rooms, as it would with a real homeserver or MUC service.
 *
 * Delivery to the gateway follows the port's contract (InboundSink: "a rejection means not
 * recorded: the bridge must let the platform redeliver"): an event counts as delivered once the
 * sink resolved, which is journaled as an `ack`; events never acknowledged (the process died
 * while the gateway was recording them, or the gateway refused them) are delivered again, in
 * timeline order, when the next process starts the bridge, as a Matrix homeserver retries an
 * appservice transaction; and while the process runs, one the gateway refused for a reason that
 * may pass (its database down: anything but a non-retryable GatewayError) is delivered again after
 * 1 s, then 2, 4, … up to 30 s, with every other unacknowledged event, in timeline order, as a
 * homeserver retries a failed transaction. (Before, a post refused during a PostgreSQL restart
 * stayed in the room's timeline and out of MIMI until the process restarted: the soak's seed-2
 * "losses", T48.) The gateway must therefore de-duplicate on platformEventId.
 *
 * Used by the memory gateway process (test/support/memory-gateway.ts) only.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ErrorCode, GatewayError, PlatformError, errorMessage } from '../../src/common/errors';
import { Platform } from '../../src/common/ids';
import type {
  BridgeHost,
  JoinRule,
  InboundEvent,
  InboundSink,
  LegacyRoomRef,
  LegacyUserRef,
  MessageAction,
  ParticipantRole,
  PlatformMessageRef,
  PostOptions,
  RemoteUser,
} from '../../src/ports';
import { ParticipantRole as Role } from '../../src/ports';
import type { EchoKeyedPostResult } from '../../bridges/kit/echo-keys';
import { MemoryPlatform, MemoryRoom } from '../fakes/memory-platform';

/** One member entry of a MemoryRoom, keyed by user ID (a native user) or ghost ID (a MIMI user). */
export interface MemberEntry {
  readonly id: string;
  readonly user: LegacyUserRef | RemoteUser;
  readonly role: ParticipantRole;
}

/** One line of the journal. */
type JournalRecord =
  | { readonly op: 'room'; readonly roomId: string; readonly name?: string; readonly joinRule?: JoinRule }
  | { readonly op: 'members'; readonly roomId: string; readonly members: readonly MemberEntry[] }
  /** One member set (`member`) or removed (no `member`): a change costs one short line, whatever the room's size. */
  | { readonly op: 'member'; readonly roomId: string; readonly id: string; readonly member?: MemberEntry }
  | { readonly op: 'event'; readonly event: InboundEvent; readonly recordedAt: number }
  | { readonly op: 'ack'; readonly platformEventId: string; readonly at: number }
  | { readonly op: 'post'; readonly key: string; readonly result: EchoKeyedPostResult }
  | { readonly op: 'notice'; readonly room: string; readonly about: string; readonly text: string };

/** What the control API shows of one timeline event. */
export interface TimelineEntry {
  readonly index: number;
  readonly event: InboundEvent;
  /** When the event entered the timeline: wall-clock milliseconds with sub-ms resolution. */
  readonly recordedAt: number;
  /** When the gateway's sink resolved for it, if it has. */
  readonly ackedAt?: number;
}

/**
 * One change of a room's member list as the platform made it (a ghost joined or left, a native user
 * joined, was kicked, banned or given a role), with its time: what latency benches wait for. Kept in
 * memory only (not journaled): a restarted process starts an empty log.
 */
export interface MemberChange {
  readonly index: number;
  /** Member key: the native user ID, or the ghost ID of a MIMI user. */
  readonly id: string;
  readonly user: LegacyUserRef | RemoteUser;
  readonly change: 'join' | 'leave' | 'kick' | 'ban' | 'unban' | 'role';
  /** Wall-clock milliseconds with sub-ms resolution (preciseNow). */
  readonly at: number;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

const BYTES_TAG = '$bytes';
/** First and longest wait before refused events are delivered again. */
const RETRY_INITIAL_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** JSON with Uint8Array values (attachment hashes) kept as tagged base64. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v instanceof Uint8Array ? { [BYTES_TAG]: Buffer.from(v).toString('base64') } : v,
  );
}

function fromJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && BYTES_TAG in v && Object.keys(v).length === 1) {
      return new Uint8Array(Buffer.from(String((v as Record<string, unknown>)[BYTES_TAG]), 'base64'));
    }
    return v;
  });
}

export class DurableMemoryPlatform extends MemoryPlatform {
  /** Events in the order they entered any timeline, with their bookkeeping. */
  private readonly entries = new Map<string, { event: InboundEvent; recordedAt: number; ackedAt?: number }>();
  private readonly journaledRooms = new Set<string>();
  private readonly durablePosts = new Map<string, EchoKeyedPostResult>();
  private readonly memberChanges = new Map<string, MemberChange[]>();
  private gatewaySink?: InboundSink;
  /** Redelivery of events left unacknowledged by an earlier process; new deliveries queue behind it. */
  private redelivery: Promise<void> = Promise.resolve();
  private fd?: number;
  /** Set by the entrypoint to log without console.*. */
  log: (message: string) => void = () => undefined;
  /** The next retry of refused events, and its delay (RETRY_INITIAL_MS doubling to RETRY_MAX_MS). */
  private retryTimer?: NodeJS.Timeout;
  private retryDelayMs = RETRY_INITIAL_MS;

  /**
   * @param journalFile where the journal lives; an existing journal is replayed.
   * @param opts.fsync fsync after every record (survives a machine crash, not only a process kill).
   */
  constructor(
    readonly journalFile: string,
    private readonly opts: { fsync?: boolean } = {},
  ) {
    super();
    if (existsSync(journalFile)) this.replay(readFileSync(journalFile, 'utf8'));
    this.fd = openSync(journalFile, 'a');
  }

  /** Start delivering to the gateway; first redeliver whatever an earlier process left unacknowledged. */
  override async start(sink: InboundSink, host?: BridgeHost): Promise<void> {
    await super.start((event) => this.deliverAndAck(sink, event), host);
    this.gatewaySink = sink;
    const pending = [...this.entries.values()].filter((e) => e.ackedAt === undefined).map((e) => e.event);
    if (pending.length > 0) {
      this.log(`redelivering ${pending.length} unacknowledged event(s) from the journal`);
      // Asynchronous on purpose: the gateway may still be starting when it starts its bridges.
      this.redelivery = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.redeliver(pending));
    }
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.gatewaySink = undefined;
    this.cancelRetry();
  }

  /** Close the journal (the process is exiting). */
  close(): void {
    this.cancelRetry();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Resolves when the redelivery of an earlier process's unacknowledged events has finished. */
  redeliveryDone(): Promise<void> {
    return this.redelivery;
  }

  /** Like the base class (which replaces a room of the same ID), and journaled. */
  override createRoom(roomId: string, name?: string, joinRule?: JoinRule): MemoryRoom {
    this.journaledRooms.delete(roomId);
    const room = super.createRoom(roomId, name);
    room.joinRule = joinRule;
    this.syncRooms();
    return room;
  }

  /** Put native users (and roles) in a room directly, as they were before the gateway came: no events. */
  seedMembers(roomId: string, members: readonly { user: LegacyUserRef; role: ParticipantRole }[]): void {
    const room = this.room(roomId);
    for (const m of members) room.members.set(m.user.userId, { user: m.user, role: m.role });
    this.journalMembers(roomId);
  }

  /** A native user posts: the event enters the timeline, then goes to the gateway. */
  override async emitLocal(
    roomId: string,
    sender: LegacyUserRef,
    action: MessageAction,
    platformEventId = this.newEventId(),
  ): Promise<string> {
    await this.emitEvent({
      kind: 'message',
      room: { platform: Platform.Memory, roomId },
      platformEventId,
      sender,
      action,
      timestamp: Date.now(),
    });
    return platformEventId;
  }

  /**
   * Any event (message, membership, role, metadata): recorded in the timeline, membership and
   * role events applied to the member list like the platform would, then delivered.
   * An ID the gateway has not acknowledged yet is delivered again (no new timeline entry).
   * @throws PlatformError when the room is unknown, the ID is taken, or the gateway refused it.
   */
  override async emitEvent(event: InboundEvent): Promise<void> {
    const room = this.room(event.room.roomId);
    const known = this.entries.get(event.platformEventId);
    if (known !== undefined && known.ackedAt === undefined) {
      // Sent again before the gateway took it (it refused it, or died): deliver it again, as a
      // homeserver retries an appservice transaction, without a second timeline entry.
      await this.redelivery;
      if (!this.gatewaySink) {
        throw new PlatformError(ErrorCode.PlatformUnavailable, 'bridge not started by the gateway');
      }
      return this.deliverAndAck(this.gatewaySink, known.event);
    }
    if (known !== undefined) {
      throw new PlatformError(ErrorCode.Conflict, `event ${event.platformEventId} exists`, { retryable: false });
    }
    room.timeline.push(event);
    this.journalEvent(event);
    this.applyToMembers(room, event);
    if (event.kind === 'membership' || event.kind === 'role') this.journalMember(room.roomId, event.user);
    await this.redelivery;
    if (!this.gatewaySink) throw new PlatformError(ErrorCode.PlatformUnavailable, 'bridge not started by the gateway');
    await this.deliverAndAck(this.gatewaySink, event);
  }

  /** Idempotent across restarts: a key seen by an earlier process returns that process's result. */
  override async post(
    room: LegacyRoomRef,
    as: RemoteUser,
    action: MessageAction,
    opts: PostOptions,
  ): Promise<EchoKeyedPostResult> {
    const known = this.durablePosts.get(opts.idempotencyKey);
    if (known) return known;
    this.syncRooms();
    const wasMember = this.rooms.get(room.roomId)?.members.has(this.ghostId(as)) ?? false;
    const result = await super.post(room, as, action, opts);
    if (!this.durablePosts.has(opts.idempotencyKey)) {
      const echo = this.rooms.get(room.roomId)?.timeline.find((e) => e.platformEventId === result.platformEventId);
      if (echo) this.journalEvent(echo);
      this.durablePosts.set(opts.idempotencyKey, result);
      this.append({ op: 'post', key: opts.idempotencyKey, result });
      if (!wasMember) this.journalMember(room.roomId, as);
    }
    return result;
  }

  override async setMembership(room: LegacyRoomRef, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    this.syncRooms();
    await super.setMembership(room, user, membership);
    this.logMemberChange(room.roomId, user, membership);
    this.journalMember(room.roomId, user);
  }

  override async moderate(
    room: LegacyRoomRef,
    target: LegacyUserRef | RemoteUser,
    action: 'kick' | 'ban' | 'unban',
  ): Promise<void> {
    this.syncRooms();
    await super.moderate(room, target, action);
    this.logMemberChange(room.roomId, target, action);
    this.journalMember(room.roomId, target);
  }

  override async setRole(room: LegacyRoomRef, user: LegacyUserRef | RemoteUser, role: ParticipantRole): Promise<void> {
    this.syncRooms();
    await super.setRole(room, user, role);
    this.logMemberChange(room.roomId, user, 'role');
    this.journalMember(room.roomId, user);
  }

  /** Failures told to users are part of the platform's history too. */
  override async notifyFailure(room: LegacyRoomRef, about: PlatformMessageRef, humanMessage: string): Promise<void> {
    await super.notifyFailure(room, about, humanMessage);
    this.append({ op: 'notice', room: room.roomId, about: about.platformEventId, text: humanMessage });
  }

  /** A room's timeline with bookkeeping, from index `since`. */
  timeline(roomId: string, since = 0): TimelineEntry[] {
    const room = this.room(roomId);
    return room.timeline.slice(since).map((event, i) => {
      const entry = this.entries.get(event.platformEventId);
      return { index: since + i, event, recordedAt: entry?.recordedAt ?? 0, ackedAt: entry?.ackedAt };
    });
  }

  /** One event's bookkeeping, by its platform ID. */
  entry(platformEventId: string): { event: InboundEvent; recordedAt: number; ackedAt?: number } | undefined {
    const e = this.entries.get(platformEventId);
    return e && { ...e };
  }

  members(roomId: string): MemberEntry[] {
    return [...this.room(roomId).members.entries()].map(([id, m]) => ({ id, user: m.user, role: m.role }));
  }

  /** A room's member changes made in this process, from index `since`. */
  memberLog(roomId: string, since = 0): MemberChange[] {
    this.room(roomId);
    return (this.memberChanges.get(roomId) ?? []).slice(since);
  }

  /** Events not (yet) acknowledged by the gateway, in timeline order. */
  unacknowledged(): InboundEvent[] {
    return [...this.entries.values()].filter((e) => e.ackedAt === undefined).map((e) => e.event);
  }

  /**
   * Journal rooms created behind our back (the gateway's `createMirrorRoom` creates rooms through
   * the base class). Called before every operation that touches a room, and by the control API.
   */
  syncRooms(): void {
    for (const room of this.rooms.values()) {
      if (this.journaledRooms.has(room.roomId)) continue;
      this.journaledRooms.add(room.roomId);
      this.append({ op: 'room', roomId: room.roomId, name: room.name, joinRule: room.joinRule });
      if (room.members.size > 0) this.journalMembers(room.roomId);
      for (const event of room.timeline) this.journalEvent(event);
    }
  }

  private async redeliver(events: readonly InboundEvent[]): Promise<void> {
    for (const event of events) {
      if (!this.gatewaySink) return;
      try {
        await this.deliverAndAck(this.gatewaySink, event);
      } catch (e) {
        this.log(`redelivery of ${event.platformEventId} refused: ${errorMessage(e)}`);
      }
    }
  }

  private async deliverAndAck(sink: InboundSink, event: InboundEvent): Promise<void> {
    this.journalEvent(event);
    try {
      await sink(event);
    } catch (e) {
      if (!(e instanceof GatewayError) || e.retryable) this.scheduleRetry();
      throw e;
    }
    const entry = this.entries.get(event.platformEventId);
    if (entry && entry.ackedAt === undefined) {
      entry.ackedAt = preciseNow();
      this.append({ op: 'ack', platformEventId: event.platformEventId, at: entry.ackedAt });
    }
  }

  /** Deliver every unacknowledged event again, in timeline order, after the current delay. */
  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.gatewaySink === undefined) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.redelivery = this.redelivery.then(() => this.retryRefused());
    }, delay);
    this.retryTimer.unref();
  }

  private async retryRefused(): Promise<void> {
    const sink = this.gatewaySink;
    if (sink === undefined) return;
    for (const event of this.unacknowledged()) {
      try {
        await this.deliverAndAck(sink, event);
      } catch (e) {
        this.log(`retry of ${event.platformEventId} refused: ${errorMessage(e)}`);
        // A refusal for good waits for the next process; any other was scheduled again by
        // deliverAndAck, and the later events stay behind it.
        if (!(e instanceof GatewayError) || e.retryable) return;
      }
    }
    this.retryDelayMs = RETRY_INITIAL_MS;
  }

  private cancelRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryDelayMs = RETRY_INITIAL_MS;
  }

  private journalEvent(event: InboundEvent): void {
    if (this.entries.has(event.platformEventId)) return;
    this.syncRooms();
    const recordedAt = preciseNow();
    this.entries.set(event.platformEventId, { event, recordedAt });
    this.append({ op: 'event', event, recordedAt });
  }

  private journalMembers(roomId: string): void {
    if (!this.rooms.has(roomId)) return;
    this.syncRooms();
    this.append({ op: 'members', roomId, members: this.members(roomId) });
  }

  /** The member entry of `user` in `roomId` as it is now (absent: removed). */
  private journalMember(roomId: string, user: LegacyUserRef | RemoteUser): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    this.syncRooms();
    const id = this.memberId(user);
    const m = room.members.get(id);
    this.append({ op: 'member', roomId, id, ...(m ? { member: { id, user: m.user, role: m.role } } : {}) });
  }

  private memberId(user: LegacyUserRef | RemoteUser): string {
    return 'userUri' in user ? this.ghostId(user) : user.userId;
  }

  /** A native user's own membership/role event changes the member list as the platform would. */
  private applyToMembers(room: MemoryRoom, event: InboundEvent): void {
    if (event.kind !== 'membership' && event.kind !== 'role') return;
    const id = this.memberId(event.user);
    const current = room.members.get(id);
    if (event.kind === 'role') {
      room.members.set(id, { user: event.user, role: event.role });
      this.logMemberChange(room.roomId, event.user, 'role');
      return;
    }
    if (event.membership !== 'invite') this.logMemberChange(room.roomId, event.user, event.membership);
    switch (event.membership) {
      case 'join':
        room.members.set(id, { user: event.user, role: current?.role ?? Role.Member });
        break;
      case 'leave':
      case 'kick':
      case 'unban':
        room.members.delete(id);
        break;
      case 'ban':
        room.members.set(id, { user: event.user, role: Role.Banned });
        break;
      case 'invite':
        break;
    }
  }

  private logMemberChange(roomId: string, user: LegacyUserRef | RemoteUser, change: MemberChange['change']): void {
    let log = this.memberChanges.get(roomId);
    if (!log) this.memberChanges.set(roomId, (log = []));
    const id = this.memberId(user);
    log.push({ index: log.length, id, user, change, at: preciseNow() });
  }

  private room(roomId: string): MemoryRoom {
    this.syncRooms();
    const room = this.rooms.get(roomId);
    if (!room) throw new PlatformError(ErrorCode.NotFound, `no such room ${roomId}`, { retryable: false });
    return room;
  }

  private newEventId(): string {
    return `$mem-${randomUUID()}`;
  }

  private append(record: JournalRecord): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, toJson(record) + '\n');
    if (this.opts.fsync) fsyncSync(this.fd);
  }

  private replay(text: string): void {
    const lines = text.split('\n');
    for (const [i, line] of lines.entries()) {
      if (line.trim() === '') continue;
      let record: JournalRecord;
      try {
        record = fromJson(line) as JournalRecord;
      } catch (e) {
        // Only the last line can be torn (the process died mid-write); anything else is corruption.
        if (i >= lines.length - 2) break;
        throw new Error(`${this.journalFile}:${i + 1}: unreadable journal record (${errorMessage(e)})`);
      }
      this.apply(record);
    }
  }

  private apply(record: JournalRecord): void {
    switch (record.op) {
      case 'room':
        super.createRoom(record.roomId, record.name).joinRule = record.joinRule;
        this.journaledRooms.add(record.roomId);
        break;
      case 'members': {
        const room = this.rooms.get(record.roomId);
        if (!room) break;
        room.members.clear();
        for (const m of record.members) room.members.set(m.id, { user: m.user, role: m.role });
        break;
      }
      case 'member': {
        const room = this.rooms.get(record.roomId);
        if (!room) break;
        if (record.member) room.members.set(record.id, { user: record.member.user, role: record.member.role });
        else room.members.delete(record.id);
        break;
      }
      case 'event': {
        const room = this.rooms.get(record.event.room.roomId);
        if (!room || this.entries.has(record.event.platformEventId)) break;
        room.timeline.push(record.event);
        this.entries.set(record.event.platformEventId, { event: record.event, recordedAt: record.recordedAt });
        break;
      }
      case 'ack': {
        const entry = this.entries.get(record.platformEventId);
        if (entry) entry.ackedAt = record.at;
        break;
      }
      case 'post':
        this.durablePosts.set(record.key, record.result);
        break;
      case 'notice':
        this.notices.push({ room: record.room, about: record.about, text: record.text });
        break;
    }
  }
}
