import { CodecError } from '../common/errors';
import { Platform, type RoomUri } from '../common/ids';
import { MetricsRegistry } from '../common/metrics';
import type { InboundEvent } from '../ports';
import type { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import type { RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import { BridgeSinkService } from './bridge-sink.service';
import type { FollowerService } from './follower.service';
import type { HubIngest } from './hub-ingest';
import type { HubService } from './hub.service';
import { RoomLocks } from './room-locks';

const ROOM = { roomUri: 'mimi://gw.example/r/1' as RoomUri, role: 'hub', platform: 'matrix' } as RoomRecord;
const message = (id: string, sender: object): InboundEvent =>
  ({
    kind: 'message',
    room: { platform: Platform.Matrix, roomId: '!r:hs' },
    platformEventId: id,
    sender,
    action: { type: 'post', body: { text: 'hi' } },
    timestamp: 1,
  }) as unknown as InboundEvent;

function service(opts: { linked?: boolean; recorded?: string[] } = {}) {
  const handled: string[] = [];
  const rooms = {
    findByLegacyRoom: async () => (opts.linked === false ? undefined : ROOM),
    findByUri: async () => ROOM,
  } as unknown as RoomRepository;
  const events = {
    findLegacyEvent: async (_tx: unknown, _p: string, id: string) =>
      opts.recorded?.includes(id) ? { roomUri: ROOM.roomUri, messageId: null } : undefined,
  } as unknown as RoomEventRepository;
  const hub = {
    onLegacyEvent: async (_r: RoomRecord, e: InboundEvent) => void handled.push(e.platformEventId),
  } as unknown as HubService;
  const follower = {} as FollowerService;
  const batches: string[][] = [];
  const hubIngest = {
    // Its own check (HubIngest.recordOne) reads the same store as `events` above.
    recordOne: async (_r: RoomRecord, e: InboundEvent) =>
      opts.recorded?.includes(e.platformEventId) ? 'duplicate' : (handled.push(e.platformEventId), 'recorded'),
    recordMany: async (events: readonly InboundEvent[]) => {
      batches.push(events.map((e) => e.platformEventId));
      for (const e of events) handled.push(e.platformEventId);
    },
  } as unknown as HubIngest;
  return { handled, batches, sink: new BridgeSinkService(rooms, events, hub, follower, new RoomLocks(), hubIngest) };
}

describe(BridgeSinkService.name, () => {
  it('hands a new event of a linked room to the hub', async () => {
    const s = service();
    expect(await s.sink.record(message('$1', { platform: Platform.Matrix, userId: '@a:hs' }))).toBe('recorded');
    expect(s.handled).toEqual(['$1']);
  });

  it('drops an event it has recorded before (idempotent on the platform event ID)', async () => {
    const s = service({ recorded: ['$1'] });
    expect(await s.sink.record(message('$1', { platform: Platform.Matrix, userId: '@a:hs' }))).toBe('duplicate');
    expect(s.handled).toEqual([]);
  });

  it('tells echoes of our own ghosts apart, and ignores unlinked rooms', async () => {
    const s = service();
    expect(await s.sink.record(message('$2', { userUri: 'mimi://peer.example/u/bob' }))).toBe('echo');
    expect(
      await service({ linked: false }).sink.record(message('$3', { platform: Platform.Matrix, userId: '@a:hs' })),
    ).toBe('unlinked');
  });

  it('records messages handed over together in one batch, other events alone in their place', async () => {
    const s = service();
    const alice = { platform: Platform.Matrix, userId: '@a:hs' };
    const role = { ...message('$r', alice), kind: 'role', user: alice, role: 'moderator' } as unknown as InboundEvent;
    await Promise.all([...['$1', '$2', '$3'].map((id) => s.sink.sink(message(id, alice))), s.sink.sink(role)]);
    await Promise.all([s.sink.sink(message('$4', alice)), s.sink.sink(message('$5', alice))]);
    expect(s.batches).toEqual([
      ['$1', '$2', '$3'],
      ['$4', '$5'],
    ]);
    expect(s.handled).toEqual(['$1', '$2', '$3', '$r', '$4', '$5']);
  });

  it('drops the echo of a render in a mirror room without taking the room lock', async () => {
    const follower = { ...ROOM, role: 'follower' } as RoomRecord;
    const locks = new RoomLocks();
    const s = new BridgeSinkService(
      { findByLegacyRoom: async () => follower, findByUri: async () => follower } as unknown as RoomRepository,
      {} as RoomEventRepository,
      {} as HubService,
      {} as FollowerService,
      locks,
      {} as HubIngest,
    );
    let held = true;
    const busy = locks.run(ROOM.roomUri, () => new Promise<void>((r) => setTimeout(() => ((held = false), r()), 200)));
    expect(await s.record(message('$e', { userUri: 'mimi://peer.example/u/bob' }))).toBe('echo');
    expect(held).toBe(true);
    await busy;
  });

  it('counts the events it could not record in mimi_ingest_failed_total, by platform and retryability (T07)', async () => {
    const metrics = new MetricsRegistry();
    const failures: Record<string, Error> = {
      $down: new Error('SQLITE_BUSY: database is locked'),
      $bad: new CodecError('bad'),
    };
    const hub = {
      onLegacyEvent: async (_r: RoomRecord, e: InboundEvent) => {
        const failure = failures[e.platformEventId];
        if (failure) throw failure;
      },
    } as unknown as HubService;
    const s = new BridgeSinkService(
      { findByLegacyRoom: async () => ROOM, findByUri: async () => ROOM } as unknown as RoomRepository,
      { findLegacyEvent: async () => undefined } as unknown as RoomEventRepository,
      hub,
      {} as FollowerService,
      new RoomLocks(),
      {
        recordOne: async (r: RoomRecord, e: InboundEvent) => (await hub.onLegacyEvent(r, e), 'recorded'),
      } as unknown as HubIngest,
      metrics,
    );
    const alice = { platform: Platform.Matrix, userId: '@a:hs' };
    await expect(s.sink(message('$down', alice))).rejects.toThrow(/SQLITE_BUSY/);
    await expect(s.sink(message('$down', alice))).rejects.toThrow(/SQLITE_BUSY/);
    await expect(s.sink(message('$bad', alice))).rejects.toThrow(CodecError);
    await s.sink(message('$ok', alice));
    const text = await metrics.render();
    expect(text).toContain('mimi_ingest_failed_total{platform="matrix",retryable="true"} 2');
    expect(text).toContain('mimi_ingest_failed_total{platform="matrix",retryable="false"} 1');
  });
});
