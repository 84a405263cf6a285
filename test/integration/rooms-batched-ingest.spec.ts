/**
 * Batched ingest (issue 12 item 1) between two in-process gateways: A hubs a room linked to its
 * memory platform, B follows it. A burst of platform events handed to A's core at once is recorded
 * per room in one database transaction, yet each event is acknowledged only once it is durable,
 * the room's order is the platform's, and a poison event is refused alone while its neighbours
 * are recorded and fanned out. Real SQLite / PostgreSQL, real MLS, real mutual TLS.
 */
import { Platform, type RoomUri } from '../../src/common/ids';
import { RoomEventRepository } from '../../src/persistence/repositories/room-event.repository';
import { RoomRepository } from '../../src/persistence/repositories/room.repository';
import { type InboundEvent, type LegacyUserRef, ParticipantRole } from '../../src/ports';
import { HubService, type RoomEventInfo, legacyUserUri } from '../../src/rooms';
import { HubIngest } from '../../src/rooms/hub-ingest';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DATABASE_KINDS } from '../support/test-data-source';
import { DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { GatewayPair, admin, eventually, found, linkMemoryRoom, memoryRoom, inviteOnA } from './gateway-pair';

const ROOM_ID = '!batched:a.example';
const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob');
const BURST = 30;

let pair: GatewayPair;
let roomUri: RoomUri;
let seq = 0;

const message = (text: string): InboundEvent => ({
  kind: 'message',
  room: memoryRoom(ROOM_ID),
  platformEventId: `$batched-${++seq}`,
  sender: ALICE,
  action: { type: 'post', body: { kind: 'text', text } },
  timestamp: Date.now(),
});

async function history(gw: GatewayPair['a']): Promise<RoomEventInfo[]> {
  const res = await admin<RoomEventInfo[]>(gw, 'GET', `/provisioning/rooms/${encodeURIComponent(roomUri)}/events`);
  expect(res.status).toBe(200);
  return res.body;
}

const texts = (events: readonly RoomEventInfo[], prefix: string): string[] =>
  events.map((e) => String(e.content.text ?? '')).filter((t) => t.startsWith(prefix));

/** The events as the platform emits them: all handed to the core at once, in order. */
function emitTogether(events: readonly InboundEvent[]): Promise<PromiseSettledResult<void>[]> {
  return Promise.allSettled(events.map((e) => pair.a.platform.emitEvent(e)));
}

describe.each(DATABASE_KINDS)('batched ingest on %s', (kind) => {
  const batchSizes: number[] = [];

  beforeAll(async () => {
    pair = await GatewayPair.start(kind);
    const room = pair.a.platform.createRoom(ROOM_ID, 'Batched');
    room.members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    roomUri = await linkMemoryRoom(pair.a, ROOM_ID);
    await inviteOnA(pair, ROOM_ID, ALICE, BOB_URI, `$batched-${++seq}`);
    await found(() => pair.b.platform.rooms.get(`${MIRROR_PREFIX}${roomUri}`), 'the mirror room on B');
    await pair.a.platform.emitLocal(ROOM_ID, ALICE, { type: 'post', body: { kind: 'text', text: 'first words' } });
    const ingest = pair.a.running.app.get(HubIngest, { strict: false });
    const recordMany = ingest.recordMany.bind(ingest);
    jest.spyOn(ingest, 'recordMany').mockImplementation(async (events) => {
      await recordMany(events);
      batchSizes.push(events.length);
    });
  }, 60_000);

  afterAll(async () => {
    jest.restoreAllMocks();
    await pair?.stop();
  });

  it('records a burst in batches, acknowledging each event only once it is durable, in platform order', async () => {
    const events = Array.from({ length: BURST }, (_, i) => message(`burst ${i}`));
    const repo = pair.a.running.app.get(RoomEventRepository, { strict: false });
    const durableAtAck: boolean[] = [];
    const acks = events.map((e) =>
      pair.a.platform
        .emitEvent(e)
        .then(async () =>
          durableAtAck.push((await repo.findLegacyEvent(undefined, 'memory', e.platformEventId)) !== undefined),
        ),
    );
    await Promise.all(acks);

    expect(durableAtAck).toEqual(events.map(() => true));
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);
    const wanted = events.map((_, i) => `burst ${i}`);
    expect(texts(await history(pair.a), 'burst ')).toEqual(wanted);
    await eventually(async () => expect(texts(await history(pair.b), 'burst ')).toEqual(wanted));
  });

  it('refuses a poison event alone: the events around it are recorded and fanned out, in order', async () => {
    const hub = pair.a.running.app.get(HubService, { strict: false });
    const onLegacyEvent = hub.onLegacyEvent.bind(hub);
    const events = Array.from({ length: 9 }, (_, i) => message(`poison-run ${i}`));
    const poison = events[4]!;
    const spy = jest.spyOn(hub, 'onLegacyEvent').mockImplementation(async (room, event) => {
      if (event.platformEventId === poison.platformEventId) throw new Error('this event cannot be processed');
      return onLegacyEvent(room, event);
    });
    batchSizes.length = 0;
    try {
      const outcomes = await emitTogether(events);

      expect(outcomes.map((o) => o.status)).toEqual(events.map((e) => (e === poison ? 'rejected' : 'fulfilled')));
      expect(String((outcomes[4] as PromiseRejectedResult).reason)).toContain('this event cannot be processed');
      expect(Math.max(...batchSizes)).toBeGreaterThan(1);
    } finally {
      spy.mockRestore();
    }
    const expected = events.filter((e) => e !== poison).map((_, i) => `poison-run ${i < 4 ? i : i + 1}`);
    expect(texts(await history(pair.a), 'poison-run ')).toEqual(expected);
    await eventually(async () => expect(texts(await history(pair.b), 'poison-run ')).toEqual(expected));
    const repo = pair.a.running.app.get(RoomEventRepository, { strict: false });
    expect(await repo.findLegacyEvent(undefined, 'memory', poison.platformEventId)).toBeUndefined();
  });

  it('does not record an event twice when the platform redelivers it within a burst', async () => {
    const first = message('redelivered once');
    const outcomes = await emitTogether([first, message('after it')]);
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    // Straight to the batch: the same event twice, and already recorded.
    await pair.a.running.app.get(HubIngest, { strict: false }).recordMany([first, first]);
    expect(texts(await history(pair.a), 'redelivered once')).toEqual(['redelivered once']);
  });

  it('records a message handed over alone in one transaction with its duplicate check, once, and fans it out', async () => {
    const alone = message('alone, then again');
    await pair.a.platform.emitEvent(alone);
    // The platform redelivers it, alone again (a homeserver retrying a transaction).
    await pair.a.platform.emitEvent(alone);
    await expect(
      pair.a.running.app
        .get(HubIngest, { strict: false })
        .recordOne(
          (await pair.a.running.app.get(RoomRepository, { strict: false }).findByUri(undefined, roomUri))!,
          alone,
        ),
    ).resolves.toBe('duplicate');
    expect(texts(await history(pair.a), 'alone, then again')).toEqual(['alone, then again']);
    await eventually(async () => expect(texts(await history(pair.b), 'alone, then again')).toHaveLength(1));
  });
});
