/**
 * T38 (docs/RELIABILITY.md): the hub's disk is full. Gateway A hubs a room, B follows it. A's
 * database cannot grow while full:
 * - SQLite: A's connection gets SQLITE_FULL for every write that grows the file (what a full disk
 *   looks like to SQLite; test/support/fault-disk.ts, no root needed);
 * - PostgreSQL: A's database is on a cluster whose whole data folder (WAL included) is on a small
 *   tmpfs filled to the last byte ("could not extend file: No space left on device"; root only,
 *   without root the case checks that the harness refuses clearly). B is on the test cluster.
 * While it is full:
 * - a local platform event is not acknowledged (the sink rejects; a real platform retries);
 * - B's submission of its user's message is refused with a 5xx, so B keeps it and tries again;
 * - nothing of either message is stored (no partial rows: no event, no outbox row).
 * Once space is back, the platform's retry and B's retries bring both messages in, each exactly
 * once, on both gateways and in both legacy rooms.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { type RoomUri } from '../../src/common/ids';
import { MimiPeerClient } from '../../src/mimi/transport';
import { ParticipantRole } from '../../src/ports';
import { type RoomEventInfo } from '../../src/rooms';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DOMAIN_A } from '../kits/mimi/transport-fixtures';
import { PostgresOnSmallDisk, SmallDisk, SqliteDiskFull } from '../support/fault-disk';
import {
  ALICE_ON_A as ALICE,
  BOB_ON_B as BOB,
  BOB_ON_B_URI as BOB_URI,
  GatewayPair,
  type GatewayUnderTest,
  eventually,
  found,
  inviteOnA,
  linkMemoryRoom,
  memoryRoom,
  roomHistory,
  roomOn,
} from './gateway-pair';

const CLUB = '!club:a.example';
/**
 * Long enough to need new database pages (4 KiB in SQLite, 8 KiB in PostgreSQL), and random so
 * that PostgreSQL cannot compress it into the room a page has left: the full disk refuses it.
 */
const LONG = randomBytes(9_000).toString('base64');
const FROM_ALICE = `alice, while A's disk is full ${LONG}`;
const FROM_BOB = `bob, while A's disk is full ${LONG}`;
const WARM_UP = 'bob, before the fault';
const ALICE_EVENT_ID = '$alice-while-full';

/** How a backend fills and frees A's disk. */
interface FullDisk {
  fill(): Promise<unknown>;
  free(): Promise<unknown>;
}

interface Backend {
  readonly name: string;
  /** Start the pair; `disk` fills A's. */
  start(): Promise<{ pair: GatewayPair; disk: (query: (sql: string) => Promise<unknown>) => FullDisk }>;
  stop(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;
/** initdb takes about 40 MiB (a 16 MiB WAL segment among it); A's database and a fresh WAL segment fit. */
const PG_DISK_BYTES = 128 * 1024 * 1024;

const sqlite: Backend = {
  name: 'SQLite',
  start: async () => ({ pair: await GatewayPair.start('sqlite'), disk: (query) => new SqliteDiskFull(query) }),
  stop: async () => undefined,
};

function postgresOnTmpfs(): Backend {
  let dir: string | undefined;
  let pg: PostgresOnSmallDisk | undefined;
  return {
    name: 'PostgreSQL, data and WAL on a full tmpfs',
    start: async () => {
      dir = mkdtempSync(join(tmpdir(), 'mimi-pg-full-'));
      pg = await PostgresOnSmallDisk.start(dir, PG_DISK_BYTES);
      const pair = await GatewayPair.start('postgres', {}, { [DOMAIN_A]: pg.url });
      return { pair, disk: () => pg! };
    },
    stop: async () => {
      await pg?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("T38: the hub's disk is full (PostgreSQL) without root", () => {
  if (isRoot) return;
  it('refuses clearly: a size-limited disk needs root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mimi-pg-full-'));
    try {
      await expect(SmallDisk.mount(join(dir, 'data'), PG_DISK_BYTES)).rejects.toThrow(/needs root/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(isRoot ? [sqlite, postgresOnTmpfs()] : [sqlite])("T38: the hub's disk is full ($name)", (backend) => {
  let pair: GatewayPair;
  let roomUri: RoomUri;
  let makeDisk: (query: (sql: string) => Promise<unknown>) => FullDisk;

  const history = (gw: GatewayUnderTest): Promise<RoomEventInfo[]> => roomHistory(gw, roomUri);
  const texts = (events: readonly RoomEventInfo[]): unknown[] => events.map((e) => e.content.text);
  const postsIn = (gw: GatewayUnderTest, roomId: string, text: string): number =>
    gw.platform.rooms
      .get(roomId)!
      .timeline.filter(
        (e) =>
          e.kind === 'message' &&
          e.action.type === 'post' &&
          e.action.body.kind === 'text' &&
          e.action.body.text === text,
      ).length;

  const query = (sql: string): Promise<unknown> => pair.a.running.app.get(DataSource).query(sql);
  /** A's rows that a message would add: room events and outbox rows. */
  const rowCounts = async (): Promise<unknown[]> => [
    await query('SELECT count(*) AS n FROM room_event'),
    await query('SELECT count(*) AS n FROM outbox_entry'),
  ];

  beforeAll(async () => {
    ({ pair, disk: makeDisk } = await backend.start());
    pair.a.platform.createRoom(CLUB, 'Club').members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    roomUri = await linkMemoryRoom(pair.a, CLUB);
    await inviteOnA(pair, CLUB, ALICE, BOB_URI);
    await found(() => roomOn(pair.b, roomUri), 'the room on B');
    // Bob speaks once before the fault, so that his client is in the group and both sides agree
    // on the epoch: what follows is one message each, not a membership change.
    await pair.b.platform.emitLocal(`${MIRROR_PREFIX}${roomUri}`, BOB, {
      type: 'post',
      body: { kind: 'text', text: WARM_UP },
    });
    await eventually(async () => expect(texts(await history(pair.a))).toContain(WARM_UP));
    await eventually(async () =>
      expect((await roomOn(pair.b, roomUri))?.epoch).toBe((await roomOn(pair.a, roomUri))?.epoch),
    );
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
    await backend.stop();
  });

  it('refuses inbound while full (not acknowledged, 5xx to the follower), stores no partial rows, and takes everything once after space is freed', async () => {
    const disk = makeDisk(query);
    const submitAnswers: number[] = [];
    const peerOfB = pair.b.running.app.get(MimiPeerClient);
    const request = peerOfB.request.bind(peerOfB);
    const spy = jest.spyOn(peerOfB, 'request').mockImplementation(async (...args) => {
      const res = await request(...args);
      if (args[0] === DOMAIN_A && args[1] === 'submitMessage') submitAnswers.push(res.status);
      return res;
    });
    try {
      const before = await rowCounts();
      await disk.fill();

      // A local event: the sink refuses it, so the platform does not get its acknowledgement.
      await expect(
        pair.a.platform.emitLocal(
          CLUB,
          ALICE,
          { type: 'post', body: { kind: 'text', text: FROM_ALICE } },
          ALICE_EVENT_ID,
        ),
      ).rejects.toThrow(/full|No space left on device/);

      // A follower's submission: A answers 5xx, more than once (B keeps trying).
      await pair.b.platform.emitLocal(`${MIRROR_PREFIX}${roomUri}`, BOB, {
        type: 'post',
        body: { kind: 'text', text: FROM_BOB },
      });
      await eventually(() => expect(submitAnswers.filter((s) => s >= 500).length).toBeGreaterThanOrEqual(2));
      expect(submitAnswers.filter((s) => s < 300)).toEqual([]);

      // Nothing of either message is in A's database: no event, no outbox row.
      expect(texts(await history(pair.a))).not.toEqual(expect.arrayContaining([FROM_ALICE]));
      expect(texts(await history(pair.a))).not.toEqual(expect.arrayContaining([FROM_BOB]));
      expect(await rowCounts()).toEqual(before);

      await disk.free();
      // The platform retries its event (same ID, as a homeserver resends a transaction).
      await pair.a.platform.emitEvent({
        kind: 'message',
        room: memoryRoom(CLUB),
        platformEventId: ALICE_EVENT_ID,
        sender: ALICE,
        action: { type: 'post', body: { kind: 'text', text: FROM_ALICE } },
        timestamp: Date.now(),
      });

      for (const gw of [pair.a, pair.b]) {
        await eventually(async () => {
          const t = texts(await history(gw));
          expect(t.filter((x) => x === FROM_ALICE)).toHaveLength(1);
          expect(t.filter((x) => x === FROM_BOB)).toHaveLength(1);
        });
      }
      // Each legacy room shows the other side's message once.
      await eventually(() => expect(postsIn(pair.b, `${MIRROR_PREFIX}${roomUri}`, FROM_ALICE)).toBe(1));
      await eventually(() => expect(postsIn(pair.a, CLUB, FROM_BOB)).toBe(1));
      // The outbox drained: nothing parked, nothing pending.
      await eventually(async () =>
        expect(
          ((await query("SELECT count(*) AS n FROM outbox_entry WHERE status <> 'delivered'")) as { n: unknown }[]).map(
            (r) => Number(r.n),
          ),
        ).toEqual([0]),
      );
    } finally {
      spy.mockRestore();
      await disk.free();
    }
  });
});
