/**
 * Scale-out room ownership (src/rooms/ownership): two "processes" (each its own DataSource, lease
 * bookkeeping and clock) on one PostgreSQL database. The MLS group cache is a recording stand-in:
 * what matters here is that it is dropped when a room changes hands.
 */
import { DataSource } from 'typeorm';
import { ErrorCode, GatewayError } from '../../src/common/errors';
import type { RoomUri } from '../../src/common/ids';
import { validateConfig } from '../../src/config/load-config';
import { groupIdForRoom } from '../../src/mls';
import { RoomLeaseRepository } from '../../src/persistence/repositories/room-lease.repository';
import { RoomTransactions } from '../../src/persistence/room-transactions';
import { runMigrations } from '../../src/persistence/run-migrations';
import { TransactionRunner, sqlOf } from '../../src/persistence/transaction-runner';
import type { MlsGroups } from '../../src/rooms/mls-groups';
import { RoomElsewhereError } from '../../src/rooms/ownership/room-elsewhere.error';
import { RoomOwnership } from '../../src/rooms/ownership/room-ownership';
import { RoomLocks } from '../../src/rooms/room-locks';
import { FakeClock } from '../support/fake-clock';
import { SILENT_LOGGER, TestDatabase } from '../support/test-data-source';

const TTL = 10_000;
const IDLE = 60_000;
const ROOM = 'mimi://a.example/r/one';
const T0 = 1_800_000_000_000;

interface Proc {
  readonly name: string;
  readonly dataSource: DataSource;
  readonly clock: FakeClock;
  readonly ownership: RoomOwnership;
  readonly locks: RoomLocks;
  readonly transactions: RoomTransactions;
  readonly forgotten: string[];
}

async function openProcess(database: TestDatabase, name: string, ingress: 'lease' | 'every' = 'every'): Promise<Proc> {
  const dataSource = await database.open();
  const clock = new FakeClock(T0);
  const runner = new TransactionRunner(dataSource);
  const transactions = new RoomTransactions(runner);
  const forgotten: string[] = [];
  const groups = {
    store: { forget: (groupId: Uint8Array) => forgotten.push(Buffer.from(groupId).toString('utf8')) },
  } as unknown as MlsGroups;
  const config = validateConfig(
    {
      provider: { domain: 'a.example' },
      database: database.config.database,
      cluster: { enabled: true, processName: name, leaseTtlMs: TTL, idleReleaseMs: IDLE, ingress },
    },
    { env: {} },
  );
  const ownership = new RoomOwnership(config, new RoomLeaseRepository(runner), transactions, groups, clock);
  return { name, dataSource, clock, ownership, locks: new RoomLocks(ownership), transactions, forgotten };
}

/** A room write as the rooms core makes one: in a room transaction, under the room's lock. */
function write(p: Proc, key: string): Promise<void> {
  return p.locks.run(ROOM, () =>
    p.transactions.run(async (tx) => {
      await sqlOf(tx).query(`INSERT INTO bridge_state (platform, "key", "value", updated_at) VALUES ('t', $1, $2, 0)`, [
        key,
        p.name,
      ]);
    }),
  );
}

async function written(p: Proc): Promise<Record<string, string>> {
  const rows = (await p.dataSource.query(`SELECT "key", "value" FROM bridge_state ORDER BY "key"`)) as {
    key: string;
    value: string;
  }[];
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('room ownership on postgres (two processes, one database)', () => {
  let database: TestDatabase;
  let one: Proc;
  let two: Proc;

  beforeEach(async () => {
    database = await TestDatabase.create('postgres');
    one = await openProcess(database, 'one');
    await runMigrations(one.dataSource, SILENT_LOGGER);
    two = await openProcess(database, 'two');
  });

  afterEach(async () => {
    await one?.dataSource.destroy();
    await two?.dataSource.destroy();
    await database?.drop();
  });

  it('lets one process own a room; the other is refused with a retryable GW_ROOM_ELSEWHERE and Retry-After', async () => {
    await write(one, 'a');

    const refused = await rejection(write(two, 'b'));

    expect(refused).toBeInstanceOf(RoomElsewhereError);
    expect(refused).toMatchObject({ code: ErrorCode.RoomElsewhere, retryable: true });
    expect((refused as GatewayError).retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect((refused as GatewayError).retryAfterMs).toBeLessThanOrEqual(TTL);
    expect(await written(one)).toEqual({ a: 'one' });
    expect(one.ownership.ownedRooms()).toEqual([ROOM]);
    expect(two.ownership.ownedRooms()).toEqual([]);
  });

  it('hands the room of a process that stopped renewing to another once the lease expired, dropping its caches', async () => {
    await write(one, 'a');
    two.clock.advance(TTL - 1);
    await expect(write(two, 'early')).rejects.toBeInstanceOf(RoomElsewhereError);

    two.clock.advance(1);
    await write(two, 'b');

    expect(await written(two)).toEqual({ a: 'one', b: 'two' });
    // Dropped once, on taking the room (not on the refusal before it).
    expect(two.forgotten).toEqual([Buffer.from(groupIdForRoom(ROOM as RoomUri)).toString('utf8')]);
  });

  it('fences a stale owner: its write after the takeover fails and changes nothing', async () => {
    await write(one, 'a');
    // `one` stalls (its clock stands still, so it still believes in its lease); `two` takes over.
    two.clock.advance(TTL);
    await write(two, 'b');

    const stale = await rejection(write(one, 'stale'));

    expect(stale).toBeInstanceOf(RoomElsewhereError);
    expect(await written(one)).toEqual({ a: 'one', b: 'two' });
    // `one` learnt it lost the room and dropped what it cached of it.
    expect(one.ownership.ownedRooms()).toEqual([]);
    expect(one.forgotten.length).toBeGreaterThanOrEqual(2);
  });

  it('makes a takeover wait for the owner transaction in flight, which commits; the next one fails', async () => {
    let inside!: () => void;
    const entered = new Promise<void>((r) => (inside = r));
    let finish!: () => void;
    const mayFinish = new Promise<void>((r) => (finish = r));
    const inFlight = one.locks.run(ROOM, () =>
      one.transactions.run(async (tx) => {
        inside();
        await mayFinish;
        await sqlOf(tx).query(
          `INSERT INTO bridge_state (platform, "key", "value", updated_at) VALUES ('t', 'a', 'one', 0)`,
        );
      }),
    );
    await entered;
    two.clock.advance(TTL);
    let takenOver = false;
    const takeover = write(two, 'b').then(() => (takenOver = true));
    await new Promise((r) => setTimeout(r, 300));
    const waitedForOwner = !takenOver;
    finish();
    await inFlight;
    await takeover;

    expect(waitedForOwner).toBe(true);
    expect(await written(one)).toEqual({ a: 'one', b: 'two' });
    await expect(write(one, 'c')).rejects.toBeInstanceOf(RoomElsewhereError);
  });

  it('keeps a renewed lease past its first expiry', async () => {
    await write(one, 'a');
    one.clock.advance(TTL / 2);
    await one.ownership.renewNow();
    two.clock.advance(TTL + 1);

    await expect(write(two, 'b')).rejects.toBeInstanceOf(RoomElsewhereError);
    one.clock.advance(TTL / 2 + 1);
    await write(one, 'c');
    expect(await written(one)).toEqual({ a: 'one', c: 'one' });
  });

  it('releases an idle room at once, and all rooms on shutdown, so that another process takes them without waiting', async () => {
    await write(one, 'a');
    one.clock.advance(IDLE);
    await one.ownership.renewNow();
    expect(one.ownership.ownedRooms()).toEqual([]);
    two.clock.advance(IDLE);
    await write(two, 'b');

    await two.ownership.beforeApplicationShutdown();
    await expect(write(two, 'after-stop')).rejects.toBeInstanceOf(RoomElsewhereError);
    one.clock.advance(1);
    await write(one, 'c');

    expect(await written(one)).toEqual({ a: 'one', b: 'two', c: 'one' });
  });
});

describe('the ingress lease on postgres (cluster.ingress: lease)', () => {
  let database: TestDatabase;
  let one: Proc;
  let two: Proc;
  const heard: string[] = [];
  const watch = (p: Proc): Promise<void> =>
    p.ownership.watchIngress(async (held) => void heard.push(`${p.name} ${held ? 'starts' : 'stops'} the bridges`));

  beforeEach(async () => {
    heard.length = 0;
    database = await TestDatabase.create('postgres');
    one = await openProcess(database, 'one', 'lease');
    await runMigrations(one.dataSource, SILENT_LOGGER);
    two = await openProcess(database, 'two', 'lease');
  });

  afterEach(async () => {
    await one?.dataSource.destroy();
    await two?.dataSource.destroy();
    await database?.drop();
  });

  it('lets one process run the bridges and serve rooms; the other stands by and refuses room work', async () => {
    await watch(one);
    await watch(two);

    expect(heard).toEqual(['one starts the bridges']);
    expect(one.ownership.holdsIngress()).toBe(true);
    expect(two.ownership.holdsIngress()).toBe(false);
    await write(one, 'a');
    const refused = await rejection(write(two, 'b'));
    expect(refused).toBeInstanceOf(RoomElsewhereError);
    expect(await written(one)).toEqual({ a: 'one' });
  });

  it('hands the ingress and the rooms to the standby when the holder stops renewing', async () => {
    await watch(one);
    await watch(two);
    await write(one, 'a');

    two.clock.advance(TTL);
    await two.ownership.renewNow();
    await write(two, 'b');

    expect(heard).toEqual(['one starts the bridges', 'two starts the bridges']);
    expect(two.ownership.holdsIngress()).toBe(true);
    // The old holder learns it on its next renewal: it stops its bridges and gives up its rooms.
    await one.ownership.renewNow();
    expect(heard).toEqual(['one starts the bridges', 'two starts the bridges', 'one stops the bridges']);
    expect(one.ownership.ownedRooms()).toEqual([]);
    await expect(write(one, 'c')).rejects.toBeInstanceOf(RoomElsewhereError);
    expect(await written(two)).toEqual({ a: 'one', b: 'two' });
  });

  it('passes the ingress on at once when its holder shuts down', async () => {
    await watch(one);
    await watch(two);
    await one.ownership.beforeApplicationShutdown();

    await two.ownership.renewNow();

    expect(two.ownership.holdsIngress()).toBe(true);
    await write(two, 'b');
  });
});

describe('room ownership on SQLite', () => {
  it('refuses cluster.enabled: SQLite serves one process', async () => {
    const database = await TestDatabase.create('sqlite');
    try {
      const config = validateConfig(
        { provider: { domain: 'a.example' }, database: database.config.database, cluster: { enabled: true } },
        { env: {} },
      );
      const dataSource = await database.open();
      try {
        const runner = new TransactionRunner(dataSource);
        expect(
          () =>
            new RoomOwnership(
              config,
              new RoomLeaseRepository(runner),
              new RoomTransactions(runner),
              {} as MlsGroups,
              new FakeClock(T0),
            ),
        ).toThrow(/cluster\.enabled/);
      } finally {
        await dataSource.destroy();
      }
    } finally {
      await database.drop();
    }
  });
});
