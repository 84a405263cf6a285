/**
 * Two gateways in one process for the rooms integration tests: providers a.example and b.example,
 * each with a MemoryPlatform bridge, a temp SQLite database, certificates from a throwaway CA, and
 * the other as its peer on loopback (mutual TLS).
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Agent, request } from 'undici';
import { ErrorCode, PlatformError } from '../../src/common/errors';
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import { type LegacyUserRef, type MessageBody, ParticipantRole } from '../../src/ports';
import { type RoomEventInfo, type RoomInfo, legacyUserUri } from '../../src/rooms';
import { MimiPeerClient } from '../../src/mimi/transport';
import {
  type SubmitMessageResponse,
  asMlsMessage,
  decodeAll,
  encodeValue,
  submitMessageRequestCodec,
  submitMessageResponseCodec,
} from '../../src/mimi/wire';
import type { GatewayConfig } from '../../src/config/gateway-config';
import { type RunningGateway, startGateway } from '../../src/main';
import {
  DOMAIN_A,
  DOMAIN_B,
  LOOPBACK_HOST,
  PemDir,
  type TestPki,
  createTestPki,
  providerConfig,
} from '../kits/mimi/transport-fixtures';
import type { PemKeyPair } from '../../registration/dev-ca';
import { MemoryPlatform } from '../fakes/memory-platform';
import { TestDatabase, type TestDatabaseKind } from '../support/test-data-source';

/** Delivery settings that make retries quick in tests. */
const FAST_OUTBOX = { initialBackoffMs: 50, maxBackoffMs: 500, pollIntervalMs: 50, requestTimeoutMs: 5000 };
const CONDITION_POLL_MS = 20;
/** Quick retries; the platform wait stays below the peers' request timeout (FAST_OUTBOX.requestTimeoutMs). */
const ROOMS_OPTIONS = { renderRetryMs: 100, submitRetryMs: 100, submitPostTimeoutMs: 2000 };
const WAIT_TIMEOUT_MS = 15_000;
/** The provisioning token of both gateways (admin.tokenFile). */
const ADMIN_TOKEN = 'gateway-pair-provisioning-token';

export interface GatewayUnderTest {
  readonly domain: string;
  readonly config: GatewayConfig;
  /** Survives restarts of the gateway, like a real platform. */
  readonly platform: MemoryPlatform;
  readonly running: RunningGateway;
  readonly port: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, LOOPBACK_HOST);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export class GatewayPair {
  private constructor(
    readonly pki: TestPki,
    readonly dir: PemDir,
    readonly a: GatewayUnderTest,
    public b: GatewayUnderTest,
    private readonly databases: readonly TestDatabase[],
  ) {}

  /**
   * Start A and B on fresh databases of `kind` (PostgreSQL needs the test cluster of the jest
   * global setup, or the cluster `pgClusters` names for a domain); `extra` sets more top-level
   * config sections of both (e.g. `{ mls: {...} }`, `limits`).
   */
  static async start(
    kind: TestDatabaseKind = 'sqlite',
    extra: Record<string, unknown> = {},
    pgClusters: Partial<Record<string, string>> = {},
  ): Promise<GatewayPair> {
    const pki = await createTestPki();
    const dir = new PemDir();
    const tokenFile = dir.write('admin.token', `${ADMIN_TOKEN}\n`);
    const [portA, portB] = [await freePort(), await freePort()];
    const databases: TestDatabase[] = [];
    const database = async (domain: string): Promise<Record<string, unknown>> => {
      if (kind === 'sqlite') return { type: 'better-sqlite3', path: `${domain}.sqlite` };
      const db = await TestDatabase.create('postgres', pgClusters[domain]);
      databases.push(db);
      return { type: 'postgres', url: db.config.database.url, poolSize: 4 };
    };
    const [databaseA, databaseB] = [await database(DOMAIN_A), await database(DOMAIN_B)];
    const config = (domain: string, identity: PemKeyPair, port: number, peer: string, peerPort: number) =>
      providerConfig(dir, domain, identity, pki.ca, {
        listen: { host: LOOPBACK_HOST, port },
        database: domain === DOMAIN_A ? databaseA : databaseB,
        admin: { enabled: true, host: LOOPBACK_HOST, port: 0, tokenFile },
        peers: [{ domain: peer, baseUrl: `https://${LOOPBACK_HOST}:${peerPort}` }],
        outbox: FAST_OUTBOX,
        logging: { level: (process.env.ROOMS_TEST_LOG_LEVEL ?? 'error') as 'error' },
        ...extra,
      });
    const start = async (domain: string, cfg: GatewayConfig, port: number): Promise<GatewayUnderTest> => {
      const platform = new MemoryPlatform();
      const running = await startGateway(cfg, { bridges: [platform], rooms: ROOMS_OPTIONS });
      return { domain, config: cfg, platform, running, port };
    };
    const a = await start(DOMAIN_A, config(DOMAIN_A, pki.a, portA, DOMAIN_B, portB), portA);
    const b = await start(DOMAIN_B, config(DOMAIN_B, pki.b, portB, DOMAIN_A, portA), portB);
    return new GatewayPair(pki, dir, a, b, databases);
  }

  /** Stop B (as after a clean shutdown); `restartB` brings it back on the same database and port. */
  async stopB(): Promise<void> {
    await this.b.running.close();
  }

  async restartB(): Promise<void> {
    const running = await startGateway(this.b.config, { bridges: [this.b.platform], rooms: ROOMS_OPTIONS });
    this.b = { ...this.b, running };
  }

  async stop(): Promise<void> {
    await this.b.running.close().catch(() => undefined);
    await this.a.running.close();
    this.dir.cleanup();
    for (const db of this.databases) await db.drop();
  }
}

/** JSON call to a gateway's admin listener. */
export async function admin<T = unknown>(
  gw: GatewayUnderTest,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${gw.running.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text.length > 0 ? JSON.parse(text) : undefined) as T };
}

/** POST raw bytes to a gateway's MIMI endpoint as `identity` (any provider certificate). */
export async function mimiPost(
  target: GatewayUnderTest,
  from: { domain: string; identity: PemKeyPair; ca: PemKeyPair },
  path: string,
  body: Uint8Array,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return mimiRequest(target, from, 'POST', path, body);
}

/** GET a gateway's MIMI endpoint as `identity` (any provider certificate). */
export async function mimiGet(
  target: GatewayUnderTest,
  from: { domain: string; identity: PemKeyPair; ca: PemKeyPair },
  path: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return mimiRequest(target, from, 'GET', path);
}

async function mimiRequest(
  target: GatewayUnderTest,
  from: { domain: string; identity: PemKeyPair; ca: PemKeyPair },
  method: 'GET' | 'POST',
  path: string,
  body?: Uint8Array,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const agent = new Agent({
    connect: {
      key: from.identity.keyPem,
      cert: from.identity.certPem,
      ca: from.ca.certPem,
      servername: target.domain,
    },
  });
  try {
    const res = await request(`https://${LOOPBACK_HOST}:${target.port}${path}`, {
      method,
      dispatcher: agent,
      headers: {
        host: target.domain,
        from: `mimi@${from.domain}`,
        ...(body ? { 'content-type': 'application/octet-stream' } : {}),
      },
      ...(body ? { body: Buffer.from(body) } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  } finally {
    await agent.close();
  }
}

/** Wait until `check` stops throwing and return its result; fail with its last error after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = WAIT_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, CONDITION_POLL_MS));
  }
}

/** Wait until `find` returns a value (not undefined) and return it. */
export async function found<T>(
  find: () => Promise<T | undefined> | T | undefined,
  what = 'value',
  timeoutMs = WAIT_TIMEOUT_MS,
): Promise<T> {
  return eventually(async () => {
    const value = await find();
    if (value === undefined) throw new Error(`${what} not there yet`);
    return value;
  }, timeoutMs);
}

/** `/submitMessage` of `appMessage` as `sendingUri`, sent by B's peer client to A (the hub of `roomUri`). */
export async function submitFromB(
  pair: GatewayPair,
  roomUri: string,
  sendingUri: string,
  appMessage: Uint8Array,
): Promise<SubmitMessageResponse> {
  const res = await requestSubmitFromB(pair, roomUri, sendingUri, appMessage);
  expect(res.status).toBe(200);
  return decodeAll(res.body, submitMessageResponseCodec);
}

function requestSubmitFromB(pair: GatewayPair, roomUri: string, sendingUri: string, appMessage: Uint8Array) {
  const body = encodeValue(
    { protocol: 'mls10', appMessage: asMlsMessage(appMessage), sendingUri },
    submitMessageRequestCodec,
  );
  return pair.b.running.app.get(MimiPeerClient).request(DOMAIN_A, 'submitMessage', roomUri, body);
}

/**
 * Make A unreachable for B's `/submitMessage` (B's peer client throws as for a refused
 * connection) until `reach()`; `refused()` counts the attempts; `restore()` undoes the spy.
 */
export function holdSubmissionsOfB(pair: GatewayPair): {
  refused: () => number;
  reach: () => void;
  restore: () => void;
} {
  const peerOfB = pair.b.running.app.get(MimiPeerClient);
  const request = peerOfB.request.bind(peerOfB);
  let reachable = false;
  let refused = 0;
  const spy = jest.spyOn(peerOfB, 'request').mockImplementation(async (domain, endpoint, ...rest) => {
    if (endpoint === 'submitMessage' && !reachable) {
      refused += 1;
      throw new PlatformError(ErrorCode.PlatformUnavailable, `${DOMAIN_A} unreachable (test)`);
    }
    return request(domain, endpoint, ...rest);
  });
  return { refused: () => refused, reach: () => (reachable = true), restore: () => spy.mockRestore() };
}

export const memoryRoom = (roomId: string) => ({ platform: Platform.Memory, roomId });

/** Alice, a user of A's memory platform; Bob, one of B's, and his MIMI user URI. */
export const ALICE_ON_A: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
export const BOB_ON_B: LegacyUserRef = { platform: Platform.Memory, userId: 'bob' };
export const BOB_ON_B_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');

/** Link the memory-platform room `roomId` of `gw` through the admin API; the new room's URI. */
export async function linkMemoryRoom(gw: GatewayUnderTest, roomId: string): Promise<RoomUri> {
  const res = await admin<{ roomUri: RoomUri }>(gw, 'POST', '/provisioning/rooms', { platform: 'memory', roomId });
  if (res.status !== 201) throw new Error(`linking ${roomId} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.roomUri;
}

/** `by` invites the remote user `userUri` into A's memory room `roomId`, as A's platform reports it. */
export async function inviteOnA(
  pair: GatewayPair,
  roomId: string,
  by: LegacyUserRef,
  userUri: UserUri,
  platformEventId = `$invite-${userUri}`,
): Promise<void> {
  await pair.a.platform.emitEvent({
    kind: 'membership',
    room: memoryRoom(roomId),
    platformEventId,
    user: { userUri },
    membership: 'invite',
    by,
    timestamp: Date.now(),
  });
}

/** A's memory room `roomId`, owned by Alice, linked, and Bob of B invited: its URI, once B has the room. */
export async function linkWithBobInvited(pair: GatewayPair, roomId: string, name: string): Promise<RoomUri> {
  pair.a.platform
    .createRoom(roomId, name)
    .members.set(ALICE_ON_A.userId, { user: ALICE_ON_A, role: ParticipantRole.Owner });
  const roomUri = await linkMemoryRoom(pair.a, roomId);
  await inviteOnA(pair, roomId, ALICE_ON_A, BOB_ON_B_URI, '$invite-bob');
  await found(() => roomOn(pair.b, roomUri), 'the room on B');
  return roomUri;
}

/**
 * A's memory room `roomId` ("Club"), owned by Alice, linked, with `invitees` (users of B) invited:
 * its URI, once B has them all in the room at A's epoch.
 */
export async function linkClubWithInvitees(
  pair: GatewayPair,
  roomId: string,
  invitees: readonly UserUri[],
): Promise<RoomUri> {
  pair.a.platform
    .createRoom(roomId, 'Club')
    .members.set(ALICE_ON_A.userId, { user: ALICE_ON_A, role: ParticipantRole.Owner });
  const roomUri = await linkMemoryRoom(pair.a, roomId);
  for (const user of invitees) await inviteOnA(pair, roomId, ALICE_ON_A, user);
  await eventually(async () =>
    expect((await roomOn(pair.b, roomUri))?.members).toEqual(expect.arrayContaining([...invitees])),
  );
  const epoch = (await roomOn(pair.a, roomUri))!.epoch;
  await eventually(async () => expect((await roomOn(pair.b, roomUri))?.epoch).toBe(epoch));
  return roomUri;
}

/** `/submitMessage` of `appMessage` as `user`, sent by B's peer client to A: the HTTP status (a 5xx is what a follower retries). */
export async function submitStatusFromB(
  pair: GatewayPair,
  roomUri: string,
  user: string,
  appMessage: Uint8Array,
): Promise<number> {
  return (await requestSubmitFromB(pair, roomUri, user, appMessage)).status;
}

/** The body of the first post in `roomId` on `gw`'s platform that `match` accepts. */
export function postedBody(
  gw: GatewayUnderTest,
  roomId: string,
  match: (body: MessageBody) => boolean,
): MessageBody | undefined {
  const event = gw.platform.rooms
    .get(roomId)
    ?.timeline.find((e) => e.kind === 'message' && e.action.type === 'post' && match(e.action.body));
  return event?.kind === 'message' && event.action.type === 'post' ? event.action.body : undefined;
}

/** The stored history of `roomUri` on `gw` (provisioning API). */
export async function roomHistory(gw: GatewayUnderTest, roomUri: RoomUri): Promise<RoomEventInfo[]> {
  return (await admin<RoomEventInfo[]>(gw, 'GET', `/provisioning/rooms/${encodeURIComponent(roomUri)}/events`)).body;
}

/** `roomUri` as `gw` lists it, or undefined while it does not know the room. */
export async function roomOn(gw: GatewayUnderTest, roomUri: RoomUri): Promise<RoomInfo | undefined> {
  return (await admin<RoomInfo[]>(gw, 'GET', '/provisioning/rooms')).body.find((r) => r.roomUri === roomUri);
}
