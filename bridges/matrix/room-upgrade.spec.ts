import type { Intent } from 'matrix-appservice-bridge';
import type { BridgeHost, LegacyRoomRef } from '../../src/ports';
import type { MatrixEvent } from './matrix-event.mapper';
import { RoomUpgrades, tombstoneReplacement } from './room-upgrade';

const OLD = '!old:hs';
const NEW = '!new:hs';
const URI = 'mimi://a.example/r/lobby';

const tombstone = (replacement: unknown = NEW): MatrixEvent =>
  ({
    event_id: '$tomb',
    room_id: OLD,
    sender: '@alice:hs',
    type: 'm.room.tombstone',
    state_key: '',
    content: { body: 'upgraded', replacement_room: replacement },
    origin_server_ts: 1,
  }) as MatrixEvent;

function setup(opts: { joinFails?: boolean; linked?: string[]; state?: Record<string, Record<string, unknown>> } = {}) {
  const linked = new Set(opts.linked ?? [OLD]);
  const notices: { roomId: string; replyTo?: string; text: string }[] = [];
  const moves: [string, string][] = [];
  const joins: string[] = [];
  const intent = {
    userId: '@mimibot:hs',
    matrixClient: {
      joinRoom: async (roomId: string) => {
        if (opts.joinFails) throw Object.assign(new Error('You are not invited to this room.'), { statusCode: 403 });
        joins.push(roomId);
        return roomId;
      },
      getRoomStateEvent: async (roomId: string, type: string) => {
        const content = opts.state?.[`${roomId} ${type}`];
        if (content === undefined) throw Object.assign(new Error('not found'), { statusCode: 404 });
        return content;
      },
    },
  } as unknown as Intent;
  const host = {
    status: async (room: LegacyRoomRef) => (linked.has(room.roomId) ? { roomUri: URI } : undefined),
    moveLink: async (from: LegacyRoomRef, to: LegacyRoomRef) => {
      moves.push([from.roomId, to.roomId]);
      const moved = linked.has(from.roomId);
      linked.delete(from.roomId);
      linked.add(to.roomId);
      return { roomUri: URI, moved };
    },
  } as unknown as BridgeHost;
  const upgrades = new RoomUpgrades({
    bot: () => intent,
    host: () => host,
    notice: async (roomId, replyTo, text) => {
      notices.push({ roomId, replyTo, text });
    },
    logger: { log: () => undefined, warn: () => undefined },
  });
  return { upgrades, notices, moves, joins };
}

describe(tombstoneReplacement.name, () => {
  it('reads the replacement room of a tombstone, and nothing else', () => {
    expect(tombstoneReplacement(tombstone())).toBe(NEW);
    expect(tombstoneReplacement(tombstone(42))).toBeUndefined();
    expect(tombstoneReplacement({ ...tombstone(), state_key: 'x' })).toBeUndefined();
    expect(tombstoneReplacement({ ...tombstone(), type: 'm.room.name' })).toBeUndefined();
  });
});

describe(RoomUpgrades.name, () => {
  /** The homeserver's state after a real upgrade: the old room's tombstone names the new one. */
  const UPGRADED = { [`${OLD} m.room.tombstone`]: { replacement_room: NEW } };

  it('joins the replacement, moves the link and tells both rooms', async () => {
    const { upgrades, notices, moves, joins } = setup({ state: UPGRADED });
    await upgrades.onTombstone(tombstone());
    expect(joins).toEqual([NEW]);
    expect(moves).toEqual([[OLD, NEW]]);
    expect(notices).toEqual([
      { roomId: NEW, replyTo: undefined, text: `This room replaces ${OLD} and continues the MIMI room ${URI}.` },
      {
        roomId: OLD,
        replyTo: '$tomb',
        text: `This room was upgraded to ${NEW}: the MIMI room ${URI} continues there, and nothing sent here crosses any more.`,
      },
    ]);
    expect(upgrades.isReplaced(OLD)).toBe(true);
    expect(upgrades.isReplaced(NEW)).toBe(false);
  });

  it('ignores a tombstone the room’s state does not hold (forged, or from a sender without the power)', async () => {
    const none = setup();
    await none.upgrades.onTombstone({ ...tombstone(), sender: '@mallory:hs' });
    const other = setup({ state: { [`${OLD} m.room.tombstone`]: { replacement_room: '!elsewhere:hs' } } });
    await other.upgrades.onTombstone({ ...tombstone(), sender: '@mallory:hs' });
    for (const { upgrades, notices, moves, joins } of [none, other]) {
      expect([notices, moves, joins]).toEqual([[], [], []]);
      expect(upgrades.isReplaced(OLD)).toBe(false);
    }
  });

  it('leaves an unlinked room alone', async () => {
    const { upgrades, notices, moves, joins } = setup({ linked: [], state: UPGRADED });
    await upgrades.onTombstone(tombstone());
    expect([notices, moves, joins]).toEqual([[], [], []]);
  });

  it('asks for an invite when the replacement cannot be joined, and follows once invited there', async () => {
    const state = {
      [`${NEW} m.room.create`]: { predecessor: { room_id: OLD } },
      [`${OLD} m.room.tombstone`]: { replacement_room: NEW },
    };
    const { upgrades, notices, moves } = setup({ joinFails: true, state });
    await upgrades.onTombstone(tombstone());
    expect(moves).toEqual([]);
    expect(notices).toHaveLength(1);
    expect(notices[0]!.text).toContain(`Invite @mimibot:hs into the new room`);
    await upgrades.followInvite(NEW, '@alice:hs');
    expect(moves).toEqual([[OLD, NEW]]);
    expect(notices.map((n) => n.roomId)).toEqual([OLD, NEW, OLD]);
  });

  it('does not move on an invite to a room whose predecessor’s tombstone names another room, or that has none', async () => {
    const other = setup({
      state: {
        ['!x:hs m.room.create']: { predecessor: { room_id: OLD } },
        [`${OLD} m.room.tombstone`]: { replacement_room: NEW },
      },
    });
    await other.upgrades.followInvite('!x:hs', '@mallory:hs');
    const plain = setup({ state: { ['!y:hs m.room.create']: {} } });
    await plain.upgrades.followInvite('!y:hs', '@alice:hs');
    expect([other.moves, plain.moves]).toEqual([[], []]);
  });
});
