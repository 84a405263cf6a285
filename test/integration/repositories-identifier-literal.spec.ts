/**
 * RELIABILITY T44: identifiers (room URIs, user URIs, legacy room IDs and JIDs, platform event IDs,
 * idempotency keys) with quotes, `;`, `--`, `%`, `_`, backslashes and SQL fragments go through
 * every repository that stores or looks them up, and are stored and matched literally: a lookup
 * finds the row of exactly that identifier, never the row of a "look-alike" that a LIKE pattern or
 * a broken quoting would also match. Then NUL, which PostgreSQL text cannot hold: a MIMI URI with a
 * control character is refused at the MIMI endpoints before any lookup (mimi-transport.spec.ts).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { ProviderDomain, RoomUri, UserUri } from '../../src/common/ids';
import { FakeClock } from '../support/fake-clock';
import { CLOCK_START } from '../support/outbox-fixtures';
import { DATABASE_KINDS, TestDataSource, createTestDataSource } from '../support/test-data-source';
import { TransactionRunner } from '../../src/persistence/transaction-runner';
import { BridgeStateRepository } from '../../src/persistence/repositories/bridge-state.repository';
import { InboundDedupeRepository } from '../../src/persistence/repositories/inbound-dedupe.repository';
import { MediaAssetRepository } from '../../src/persistence/repositories/media-asset.repository';
import { MlsKvRepository } from '../../src/persistence/repositories/mls-kv.repository';
import { OutboxRepository } from '../../src/persistence/repositories/outbox.repository';
import { RoomEventRepository } from '../../src/persistence/repositories/room-event.repository';
import { RoomLeaseRepository } from '../../src/persistence/repositories/room-lease.repository';
import { RoomSubmissionRepository } from '../../src/persistence/repositories/room-submission.repository';
import { RoomRepository } from '../../src/persistence/repositories/room.repository';

/** Pieces that break string-built SQL or LIKE patterns. */
const HOSTILE = fc.constantFrom(
  "'",
  '"',
  ';',
  '--',
  '%',
  '_',
  '\\',
  '*',
  "' OR '1'='1",
  '); DROP TABLE mimi_room; --',
  '/*',
  '`',
  '$1',
  'ü',
  '🎉',
);
/** A non-empty identifier tail made of hostile pieces and plain characters. */
const TAIL = fc
  .array(fc.oneof(HOSTILE, fc.string({ minLength: 1, maxLength: 3, unit: 'grapheme-ascii' })), {
    minLength: 1,
    maxLength: 8,
  })
  .map((parts) => parts.join(''))
  .filter((tail) => !tail.includes('\u0000'));

/** The look-alike a LIKE match would confuse with `id`: every `%` and `_` replaced by a letter. */
const lookAlike = (id: string): string => id.replace(/[%_]/g, 'x');

describe.each(DATABASE_KINDS)('identifiers stored and matched literally on %s (T44)', (kind) => {
  let dataSource: TestDataSource;
  let tx: TransactionRunner;
  let clock: FakeClock;
  let run = 0;

  beforeAll(async () => {
    dataSource = await createTestDataSource(kind);
    tx = new TransactionRunner(dataSource);
    clock = new FakeClock(CLOCK_START);
  });
  afterAll(async () => dataSource?.destroy());

  /** Store rows under `tail` (and a look-alike when `withLookAlike`) in every repository; check the lookups. */
  async function checkLiteral(tail: string): Promise<void> {
    const n = ++run;
    const ids = (t: string) => ({
      room: `mimi://a.example/r/${n}${t}` as RoomUri,
      user: `mimi://b.example/u/${n}${t}` as UserUri,
      legacy: `${n}${t}@conference.example`,
      event: `$${n}${t}`,
      key: `key-${n}/${t}`,
      /** Columns of hex digests (message IDs, body hashes, asset IDs): derived, of fixed length. */
      hex: createHash('sha256').update(`${n}${t}`).digest('hex'),
    });
    const id = ids(tail);
    const alike = ids(lookAlike(tail));
    const same = alike.room === id.room;
    const rooms = new RoomRepository(tx, clock);
    const events = new RoomEventRepository(tx, clock);
    const submissions = new RoomSubmissionRepository(tx, clock);
    const media = new MediaAssetRepository(tx, clock);
    const kv = new MlsKvRepository(tx, clock);
    const outbox = new OutboxRepository(tx, clock);
    const dedupe = new InboundDedupeRepository(tx, clock);
    const leases = new RoomLeaseRepository(tx);
    const state = new BridgeStateRepository(tx, clock).storeFor(`xmpp-${n}`);

    await tx.run(async (t) => {
      await rooms.insert(t, {
        roomUri: id.room,
        role: 'hub',
        hubDomain: 'a.example' as ProviderDomain,
        platform: 'xmpp',
        legacyRoomId: id.legacy,
      });
      await rooms.addLocalMember(t, id.room, id.user);
      await events.insert(t, {
        roomUri: id.room,
        seq: 1,
        messageId: `01${id.hex}`,
        senderUri: id.user,
        kind: 'text',
        content: new Uint8Array([n & 0xff]),
        acceptedAt: CLOCK_START,
        renderStatus: 'none',
      });
      await events.recordLegacyEvent(t, {
        platform: 'xmpp',
        platformEventId: id.event,
        roomUri: id.room,
        messageId: `01${id.hex}`,
      });
      await submissions.insert(t, {
        roomUri: id.room,
        bodySha256: id.hex,
        direction: 'in',
        messageId: `01${id.hex}`,
        senderUri: id.user,
        appMessage: new Uint8Array([1]),
        content: new Uint8Array([2]),
        status: 'posting',
        platformEventId: id.event,
      });
      await outbox.append(t, [
        {
          destination: 'b.example' as ProviderDomain,
          roomUri: id.room,
          idempotencyKey: id.key,
          endpoint: 'notify',
          body: new Uint8Array([3]),
        },
      ]);
    });
    await media.insert(undefined, {
      assetId: id.hex,
      roomUri: id.room,
      platform: 'xmpp',
      sourceUrl: id.legacy,
      contentType: 'text/plain',
    });
    await kv.put(undefined, id.key, new Uint8Array([4]));
    await state.save(new Map([[id.legacy, id.event]]), []);
    const lease = await leases.acquire(id.room, id.user, CLOCK_START, 60_000);
    const sourceDomain = 'b.example' as ProviderDomain;
    /** Whether `roomUri`'s notify with this run's body is new to the dedupe table. */
    const firstSeen = (roomUri: RoomUri) =>
      dedupe.recordIfNew(undefined, { sourceDomain, roomUri, endpoint: 'notify', body: new Uint8Array([n]) });
    expect(await firstSeen(id.room)).toBe(true);

    // Every lookup by the exact identifier finds its row, with the identifier as stored.
    expect((await rooms.findByUri(undefined, id.room))?.legacyRoomId).toBe(id.legacy);
    expect((await rooms.findByLegacyRoom(undefined, 'xmpp', id.legacy))?.roomUri).toBe(id.room);
    expect(await rooms.localMembers(undefined, id.room)).toEqual([id.user]);
    expect((await events.findByMessageId(undefined, id.room, `01${id.hex}`))?.senderUri).toBe(id.user);
    expect(await events.findLegacyEvent(undefined, 'xmpp', id.event)).toEqual({
      roomUri: id.room,
      messageId: `01${id.hex}`,
    });
    expect(await events.findPlatformEventId(undefined, id.room, 'xmpp', `01${id.hex}`)).toBe(id.event);
    expect((await submissions.findByHash(undefined, id.room, id.hex))?.platformEventId).toBe(id.event);
    expect((await outbox.findByIdempotencyKey(id.key))?.roomUri).toBe(id.room);
    expect((await media.find(undefined, id.hex))?.sourceUrl).toBe(id.legacy);
    expect(await kv.get(undefined, id.key)).toEqual(new Uint8Array([4]));
    expect(await kv.listKeys(undefined, id.key)).toEqual([id.key]);
    expect(await state.load()).toEqual(new Map([[id.legacy, id.event]]));
    expect(lease).toMatchObject({ kind: 'held', roomUri: id.room, epoch: 1 });
    expect(await leases.acquire(id.room, 'another-owner', CLOCK_START, 60_000)).toMatchObject({
      kind: 'elsewhere',
      owner: id.user,
    });
    expect(await firstSeen(id.room)).toBe(false);

    // ... and a look-alike (what `%`/`_` would match as a pattern) finds nothing of it.
    if (!same) {
      expect(await rooms.findByUri(undefined, alike.room)).toBeUndefined();
      expect(await rooms.findByLegacyRoom(undefined, 'xmpp', alike.legacy)).toBeUndefined();
      expect(await rooms.localMembers(undefined, alike.room)).toEqual([]);
      expect(await events.findByMessageId(undefined, alike.room, `01${id.hex}`)).toBeUndefined();
      expect(await events.findLegacyEvent(undefined, 'xmpp', alike.event)).toBeUndefined();
      expect(await submissions.findByHash(undefined, alike.room, id.hex)).toBeUndefined();
      expect(await outbox.findByIdempotencyKey(alike.key)).toBeUndefined();
      expect(await kv.get(undefined, alike.key)).toBeUndefined();
      expect(await kv.listKeys(undefined, alike.key)).toEqual([]);
      expect(await leases.acquire(alike.room, 'another-owner', CLOCK_START, 60_000)).toMatchObject({ kind: 'held' });
      expect(await firstSeen(alike.room)).toBe(true);
    }
  }

  it('stores and finds room URIs, user URIs, JIDs, event IDs and keys with quotes, ;, --, %, _ literally (property)', async () => {
    await fc.assert(fc.asyncProperty(TAIL, checkLiteral), { numRuns: 40, seed: 4444 });
    // The tables are all there and hold one room per run: nothing was dropped or cross-matched.
    const count = (await dataSource.query('SELECT count(*) AS n FROM mimi_room')) as { n: number | string }[];
    expect(Number(count[0]!.n)).toBe(run);
  });
});

describe.each(DATABASE_KINDS)('NUL in identifiers on %s (T44)', (kind) => {
  let dataSource: TestDataSource;
  let tx: TransactionRunner;
  beforeAll(async () => {
    dataSource = await createTestDataSource(kind);
    tx = new TransactionRunner(dataSource);
  });
  afterAll(async () => dataSource?.destroy());

  it('stores a NUL literally on SQLite and refuses it on PostgreSQL, never truncating at it', async () => {
    const rooms = new RoomRepository(tx, new FakeClock(CLOCK_START));
    const room = 'mimi://a.example/r/a\u0000b' as RoomUri;
    const before = 'mimi://a.example/r/a' as RoomUri;
    const insert = tx.run((t) =>
      rooms.insert(t, {
        roomUri: room,
        role: 'hub',
        hubDomain: 'a.example' as ProviderDomain,
        platform: 'xmpp',
        legacyRoomId: 'x\u0000y',
      }),
    );
    if (kind === 'sqlite') {
      await insert;
      expect(await rooms.findByUri(undefined, room)).toMatchObject({ roomUri: room, legacyRoomId: 'x\u0000y' });
      expect(await rooms.findByLegacyRoom(undefined, 'xmpp', 'x\u0000y')).toMatchObject({ roomUri: room });
    } else {
      await expect(insert).rejects.toThrow(/invalid byte sequence for encoding "UTF8": 0x00/);
      await expect(rooms.findByUri(undefined, room)).rejects.toThrow(/0x00/);
    }
    expect(await rooms.findByUri(undefined, before)).toBeUndefined();
    expect(await rooms.findByLegacyRoom(undefined, 'xmpp', 'x')).toBeUndefined();
    expect(await rooms.list()).toEqual(kind === 'sqlite' ? [expect.objectContaining({ roomUri: room })] : []);
  });
});
