/**
 * The test-only control API of a memory gateway process (ISSUE3-CONTRACT §6): plain HTTP + JSON on
 * loopback, to drive the in-memory platform behind the gateway as its users would.
 *
 *   GET  /health                                     { domain, mimiUrl, adminUrl, pid }
 *   GET  /rooms                                      [{ roomId, name, members, timelineLength }]
 *   POST /rooms            { roomId, name?, members?: [{ userId, displayName?, role? }] }  → 201 room
 *   GET  /rooms/:roomId                              room (members with roles)
 *   GET  /rooms/:roomId/timeline?since=N             [{ index, event, recordedAt, ackedAt? }]
 *   POST /rooms/:roomId/messages   { sender: { userId, displayName? }, action, platformEventId? }
 *                                                    → 201 { platformEventId, recordedAt, ackedAt }
 *   POST /rooms/:roomId/messages/batch { sender, texts: string[] }
 *                                                    → 201 [{ platformEventId, recordedAt, ackedAt }] (in order)
 *   GET  /rooms/:roomId/member-log?since=N          [{ index, id, user, change, at }] member changes made by
 *                                                    the platform (ghost joins too), with their times
 *   POST /rooms/:roomId/membership { user, membership, by?, reason?, platformEventId? }
 *                                                    → 201 { platformEventId, recordedAt, ackedAt }
 *   POST /rooms/:roomId/role       { user, role, by?, platformEventId? }                 → 201 { platformEventId }
 *   GET  /notices                                    failures the gateway reported to users (notifyFailure)
 *   GET  /unacknowledged                             events the gateway has not acknowledged
 *   PUT  /knobs            { postDelayMs?, echoDelayMs?, failWith?: { code, message } | null }
 *
 * `:roomId` is percent-encoded (encodeURIComponent). `user` is a native user `{ userId, displayName? }`
 * or a MIMI user `{ userUri, displayName? }`. Errors: `{ errcode, error }` with the status of the
 * error code (src/common/errors.ts).
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getHeapSpaceStatistics } from 'node:v8';
import { ErrorCode, GatewayError, HTTP_STATUS_BY_CODE, PlatformError, errorMessage } from '../../src/common/errors';
import { Platform, RoomUri, UserUri } from '../../src/common/ids';
import type { InboundEvent, LegacyUserRef, Membership, MessageAction, RemoteUser } from '../../src/ports';
import { ParticipantRole } from '../../src/ports';
import { DurableMemoryPlatform, preciseNow } from './memory-gateway-platform';

/** Largest control request body (a batch of a few thousand short messages fits). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const MEMBERSHIPS: readonly Membership[] = ['invite', 'join', 'leave', 'kick', 'ban', 'unban'];
const ROLES = new Set<string>(Object.values(ParticipantRole));

export interface ControlServerInfo {
  readonly domain: string;
  readonly mimiUrl?: string;
  readonly adminUrl?: string;
}

/** One emitted event as the control API reports it. */
interface EmitResult {
  readonly platformEventId: string;
  readonly recordedAt: number;
  readonly ackedAt: number;
}

class BadRequest extends GatewayError {
  constructor(message: string) {
    super(ErrorCode.BadValue, message);
  }
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(body: Json, key: string, required: true): string;
function str(body: Json, key: string, required?: false): string | undefined;
function str(body: Json, key: string, required = false): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new BadRequest(`${key}: a non-empty string`);
  return v;
}

function legacyUser(v: unknown, what: string): LegacyUserRef {
  if (!isObject(v)) throw new BadRequest(`${what}: { userId, displayName? }`);
  return { platform: Platform.Memory, userId: str(v, 'userId', true), displayName: str(v, 'displayName') };
}

function anyUser(v: unknown, what: string): LegacyUserRef | RemoteUser {
  if (isObject(v) && 'userUri' in v) {
    return { userUri: str(v, 'userUri', true) as UserUri, displayName: str(v, 'displayName') };
  }
  return legacyUser(v, what);
}

function role(v: unknown, what: string): ParticipantRole {
  if (typeof v !== 'string' || !ROLES.has(v)) throw new BadRequest(`${what}: one of ${[...ROLES].join(', ')}`);
  return v as ParticipantRole;
}

/** Light shape check of a MessageAction (src/ports); the gateway validates the rest. */
function messageAction(v: unknown): MessageAction {
  if (!isObject(v) || typeof v.type !== 'string') throw new BadRequest('action: a MessageAction { type, ... }');
  switch (v.type) {
    case 'post':
    case 'edit':
      if (!isObject(v.body) || typeof v.body.text !== 'string') throw new BadRequest('action.body.text: a string');
      break;
    case 'delete':
    case 'react':
    case 'unreact':
      break;
    default:
      throw new BadRequest(`action.type: one of post, edit, delete, react, unreact`);
  }
  return v as unknown as MessageAction;
}

function sinceOf(query: URLSearchParams): number {
  const since = Number(query.get('since') ?? '0');
  if (!Number.isInteger(since) || since < 0) throw new BadRequest('since: a whole number');
  return since;
}

async function readJson(req: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new GatewayError(ErrorCode.PayloadTooLarge, 'control request too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new BadRequest(`body: JSON (${errorMessage(e)})`);
  }
  if (!isObject(parsed)) throw new BadRequest('body: a JSON object');
  return parsed;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The control API over one DurableMemoryPlatform. */
class ControlApi {
  constructor(
    private readonly platform: DurableMemoryPlatform,
    private readonly info: ControlServerInfo,
  ) {}

  /** Route one request; resolves once the answer is sent. Never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://control');
      const parts = url.pathname
        .split('/')
        .filter((p) => p !== '')
        .map(decodeURIComponent);
      const method = req.method ?? 'GET';
      const body = method === 'POST' || method === 'PUT' ? await readJson(req) : {};
      const [status, result] = await this.route(method, parts, body, url.searchParams);
      send(res, status, result);
    } catch (e) {
      const code = e instanceof GatewayError ? e.code : ErrorCode.Internal;
      send(res, HTTP_STATUS_BY_CODE[code], { errcode: code, error: errorMessage(e) });
    }
  }

  private async route(method: string, parts: string[], body: Json, query: URLSearchParams): Promise<[number, unknown]> {
    const p = this.platform;
    const [top, roomId, sub, subsub] = parts;
    if (method === 'GET' && top === 'health' && parts.length === 1) {
      return [200, { ...this.info, pid: process.pid }];
    }
    if (method === 'GET' && top === 'memory' && parts.length === 1) {
      return [200, processMemory(query.get('gc') === '1')];
    }
    if (top === 'rooms' && roomId === undefined) {
      if (method === 'GET') {
        p.syncRooms();
        return [200, [...p.rooms.keys()].map((id) => this.describeRoom(id))];
      }
      if (method === 'POST') return [201, this.createRoom(body)];
    }
    if (top === 'rooms' && roomId !== undefined) {
      if (method === 'GET' && sub === undefined) return [200, this.describeRoom(roomId)];
      if (method === 'GET' && sub === 'timeline' && subsub === undefined) {
        return [200, p.timeline(roomId, sinceOf(query))];
      }
      if (method === 'GET' && sub === 'member-log' && subsub === undefined) {
        return [200, p.memberLog(roomId, sinceOf(query))];
      }
      if (method === 'POST' && sub === 'messages' && subsub === undefined) {
        return [201, await this.emitMessage(roomId, body)];
      }
      if (method === 'POST' && sub === 'messages' && subsub === 'batch') {
        return [201, await this.emitBatch(roomId, body)];
      }
      if (method === 'POST' && sub === 'membership' && subsub === undefined) {
        return [201, await this.emitMembership(roomId, body)];
      }
      if (method === 'POST' && sub === 'role' && subsub === undefined) {
        return [201, await this.emitRole(roomId, body)];
      }
    }
    if (method === 'POST' && top === 'remote-rooms' && parts.length === 1) return [201, await this.joinRemote(body)];
    if (method === 'GET' && top === 'notices' && parts.length === 1) return [200, p.notices];
    if (method === 'GET' && top === 'unacknowledged' && parts.length === 1) return [200, p.unacknowledged()];
    if (method === 'PUT' && top === 'knobs' && parts.length === 1) return [200, this.setKnobs(body)];
    throw new GatewayError(ErrorCode.NotFound, `no control route ${method} /${parts.join('/')}`);
  }

  private describeRoom(roomId: string): Json {
    const room = this.platform.rooms.get(roomId);
    if (!room) throw new GatewayError(ErrorCode.NotFound, `no such room ${roomId}`);
    return {
      roomId,
      name: room.name,
      topic: room.topic,
      joinRule: room.joinRule ?? 'invite',
      members: this.platform.members(roomId),
      timelineLength: room.timeline.length,
    };
  }

  /**
   * A native user asks for a remote MIMI room, as a bridge's portal join does (Matrix: a portal
   * alias): the core mirrors it here; the user's join of the mirror then enters the MIMI room.
   */
  private async joinRemote(body: Json): Promise<Json> {
    const roomUri = str(body, 'roomUri', true);
    const user = legacyUser(body.user, 'user');
    const host = this.platform.host;
    if (!host) throw new GatewayError(ErrorCode.PlatformUnavailable, 'the gateway has not started the bridge');
    const mirror = await host.joinRemote(roomUri as RoomUri, user);
    return this.describeRoom(mirror.roomId);
  }

  private createRoom(body: Json): Json {
    const roomId = str(body, 'roomId', true);
    const members = body.members === undefined ? [] : body.members;
    if (!Array.isArray(members)) throw new BadRequest('members: a list of { userId, displayName?, role? }');
    const seeded = members.map((m: unknown, i) => ({
      user: legacyUser(m, `members[${i}]`),
      role: isObject(m) && m.role !== undefined ? role(m.role, `members[${i}].role`) : ParticipantRole.Member,
    }));
    if (this.platform.rooms.has(roomId)) throw new GatewayError(ErrorCode.Conflict, `room ${roomId} exists`);
    const joinRule = str(body, 'joinRule');
    if (joinRule !== undefined && joinRule !== 'public' && joinRule !== 'invite') {
      throw new BadRequest(`joinRule: 'public' or 'invite', not ${JSON.stringify(joinRule)}`);
    }
    this.platform.createRoom(roomId, str(body, 'name'), joinRule);
    if (seeded.length > 0) this.platform.seedMembers(roomId, seeded);
    return this.describeRoom(roomId);
  }

  private async emitMessage(roomId: string, body: Json): Promise<EmitResult> {
    const sender = legacyUser(body.sender, 'sender');
    const action = messageAction(body.action);
    const id = await this.platform.emitLocal(roomId, sender, action, str(body, 'platformEventId'));
    return this.result(roomId, id);
  }

  /**
   * Posts one text message per entry, in order. `inFlight` (default 1): how many are handed to the
   * gateway at once before waiting for all of them to be acknowledged, as Synapse sends one
   * appservice transaction of up to 100 events at a time; 1 acknowledges each before the next.
   */
  private async emitBatch(roomId: string, body: Json): Promise<EmitResult[]> {
    const sender = legacyUser(body.sender, 'sender');
    const texts = body.texts;
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
      throw new BadRequest('texts: a list of strings');
    }
    const inFlight = body.inFlight ?? 1;
    if (typeof inFlight !== 'number' || !Number.isInteger(inFlight) || inFlight < 1) {
      throw new BadRequest('inFlight: a positive integer');
    }
    const results: EmitResult[] = [];
    for (let i = 0; i < texts.length; i += inFlight) {
      const chunk = (texts as string[]).slice(i, i + inFlight);
      const ids = await Promise.all(
        chunk.map((text) => this.platform.emitLocal(roomId, sender, { type: 'post', body: { kind: 'text', text } })),
      );
      for (const id of ids) results.push(this.result(roomId, id));
    }
    return results;
  }

  private async emitMembership(roomId: string, body: Json): Promise<EmitResult> {
    const membership = body.membership;
    if (typeof membership !== 'string' || !MEMBERSHIPS.includes(membership as Membership)) {
      throw new BadRequest(`membership: one of ${MEMBERSHIPS.join(', ')}`);
    }
    const event: InboundEvent = {
      kind: 'membership',
      room: { platform: Platform.Memory, roomId },
      platformEventId: str(body, 'platformEventId') ?? this.eventId(),
      user: anyUser(body.user, 'user'),
      membership: membership as Membership,
      by: body.by === undefined ? undefined : legacyUser(body.by, 'by'),
      reason: str(body, 'reason'),
      timestamp: Date.now(),
    };
    await this.platform.emitEvent(event);
    return this.result(roomId, event.platformEventId);
  }

  private async emitRole(roomId: string, body: Json): Promise<{ platformEventId: string }> {
    const event: InboundEvent = {
      kind: 'role',
      room: { platform: Platform.Memory, roomId },
      platformEventId: str(body, 'platformEventId') ?? this.eventId(),
      user: anyUser(body.user, 'user'),
      role: role(body.role, 'role'),
      by: body.by === undefined ? undefined : legacyUser(body.by, 'by'),
      timestamp: Date.now(),
    };
    await this.platform.emitEvent(event);
    return { platformEventId: event.platformEventId };
  }

  private setKnobs(body: Json): Json {
    const p = this.platform;
    for (const key of ['postDelayMs', 'echoDelayMs'] as const) {
      const v = body[key];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new BadRequest(`${key}: milliseconds`);
      p[key] = v;
    }
    if (body.failWith === null) p.failWith = undefined;
    else if (body.failWith !== undefined) {
      const f = body.failWith;
      if (!isObject(f) || !Object.values(ErrorCode).includes(f.code as ErrorCode)) {
        throw new BadRequest('failWith: { code: <ErrorCode>, message } or null');
      }
      p.failWith = new PlatformError(f.code as ErrorCode, str(f, 'message') ?? 'injected failure');
    }
    return { postDelayMs: p.postDelayMs, echoDelayMs: p.echoDelayMs, failWith: p.failWith?.code ?? null };
  }

  private result(roomId: string, platformEventId: string): EmitResult {
    const entry = this.platform.entry(platformEventId);
    if (!entry || entry.event.room.roomId !== roomId) {
      throw new GatewayError(ErrorCode.Internal, `event ${platformEventId} missing from ${roomId}`);
    }
    return { platformEventId, recordedAt: entry.recordedAt, ackedAt: entry.ackedAt ?? preciseNow() };
  }

  private eventId(): string {
    return `$mem-${randomUUID()}`;
  }
}

/** Serve the control API on `host:port` (port 0 picks one). */
export async function startControlServer(
  platform: DurableMemoryPlatform,
  info: ControlServerInfo,
  host: string,
  port: number,
): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const api = new ControlApi(platform, info);
  const server = createServer((req, res) => void api.handle(req, res));
  server.keepAliveTimeout = 30_000;
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * This process's memory (process.memoryUsage(), bytes), after a full garbage collection when `gc`
 * and the process runs with --expose-gc (`gcRan` says whether it did): the storm bench compares
 * the live heap with the RSS to tell a leak from memory the allocator keeps.
 */
function processMemory(gc: boolean): Json {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (gc && collect !== undefined) collect();
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    // V8's heap by space (bytes committed): which of them a storm grew (new space under
    // allocation pressure, old space with garbage waiting for the next mark-compact).
    spaces: Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size])),
    gcRan: gc && collect !== undefined,
  };
}
