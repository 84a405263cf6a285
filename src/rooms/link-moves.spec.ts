import { ErrorCode, type GatewayError } from '../common/errors';
import { Platform, type RoomUri } from '../common/ids';
import type { RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import type { RoomTransactions } from '../persistence/room-transactions';
import { LinkMoves } from './link-moves';
import { RoomLocks } from './room-locks';

const URI = 'mimi://a.example/r/lobby' as RoomUri;
const ALICE = { platform: Platform.Matrix, userId: '@alice:hs' };
const room = (roomId: string) => ({ platform: Platform.Matrix, roomId });

/** A room table in memory: legacy room → record. */
function table(rows: Record<string, RoomRecord>): RoomRepository {
  return {
    findByLegacyRoom: async (_tx: unknown, platform: string, id: string) =>
      Object.values(rows).find((r) => r.platform === platform && r.legacyRoomId === id),
    moveLegacyRoom: async (_tx: unknown, uri: RoomUri, id: string) => {
      const row = Object.values(rows).find((r) => r.roomUri === uri);
      if (row === undefined) return false;
      (row as { legacyRoomId: string }).legacyRoomId = id;
      return true;
    },
  } as unknown as RoomRepository;
}
const transactions = { run: (fn: (tx: unknown) => unknown) => fn({}) } as unknown as RoomTransactions;

function linked(legacyRoomId: string, roomUri = URI): RoomRecord {
  return { roomUri, role: 'hub', hubDomain: 'a.example', platform: Platform.Matrix, legacyRoomId } as RoomRecord;
}

describe(LinkMoves.name, () => {
  it('moves the MIMI room of the old room to the replacement, once (a replayed tombstone moves nothing)', async () => {
    const rows = { lobby: linked('!old:hs') };
    const moves = new LinkMoves(table(rows), new RoomLocks(), transactions);
    await expect(moves.move(room('!old:hs'), room('!new:hs'), ALICE)).resolves.toEqual({ roomUri: URI, moved: true });
    expect(rows.lobby.legacyRoomId).toBe('!new:hs');
    await expect(moves.move(room('!old:hs'), room('!new:hs'), ALICE)).resolves.toEqual({ roomUri: URI, moved: false });
  });

  it('refuses when neither room is linked, when the replacement carries another link, and across platforms', async () => {
    const rows = { lobby: linked('!old:hs'), other: linked('!taken:hs', 'mimi://a.example/r/other' as RoomUri) };
    const moves = new LinkMoves(table(rows), new RoomLocks(), transactions);
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => (e as GatewayError).code,
      );
    expect(await codeOf(moves.move(room('!none:hs'), room('!new:hs'), ALICE))).toBe(ErrorCode.NotFound);
    expect(await codeOf(moves.move(room('!old:hs'), room('!taken:hs'), ALICE))).toBe(ErrorCode.Conflict);
    expect(await codeOf(moves.move(room('!old:hs'), { platform: Platform.Xmpp, roomId: 'r@muc' }, ALICE))).toBe(
      ErrorCode.Conflict,
    );
    expect(rows.lobby.legacyRoomId).toBe('!old:hs');
  });
});
