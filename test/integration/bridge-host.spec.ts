import { ErrorCode } from '../../src/common/errors';
import { Platform, RoomUri } from '../../src/common/ids';
import { DOMAIN_A, DOMAIN_B } from '../kits/mimi/transport-fixtures';
import { BridgeHost, LegacyUserRef } from '../../src/ports';
import { GatewayPair, memoryRoom } from './gateway-pair';

/**
 * The BridgeHost the rooms core hands to every bridge: what `!mimi link|unlink|status` and
 * portal joins do. Driven through the memory platform like a bridge would.
 */
const ROOM_ID = '!host-test:a.example';
const ADMIN: LegacyUserRef = { platform: Platform.Memory, userId: 'admin' };

describe('BridgeHost (in-room commands)', () => {
  let pair: GatewayPair;
  let host: BridgeHost;

  beforeAll(async () => {
    pair = await GatewayPair.start();
    pair.a.platform.createRoom(ROOM_ID, 'Host test');
    host = pair.a.platform.host!;
  });

  afterAll(() => pair.stop());

  it('is passed to the bridge at start', () => {
    expect(host).toBeDefined();
  });

  it('reports an unbridged room as unlinked', async () => {
    await expect(host.status(memoryRoom(ROOM_ID))).resolves.toBeUndefined();
  });

  it('links a room as its hub, idempotently', async () => {
    const first = await host.link(memoryRoom(ROOM_ID), ADMIN);
    expect(first).toMatchObject({ role: 'hub', hub: DOMAIN_A, room: memoryRoom(ROOM_ID) });
    expect(first.roomUri).toMatch(new RegExp(`^mimi://${DOMAIN_A}/r/`));
    const again = await host.link(memoryRoom(ROOM_ID), ADMIN);
    expect(again.roomUri).toBe(first.roomUri);
    await expect(host.status(memoryRoom(ROOM_ID))).resolves.toMatchObject({ roomUri: first.roomUri });
  });

  it('refuses a portal join of a room its hub does not have, with a clear code', async () => {
    await expect(host.joinRemote(`mimi://${DOMAIN_B}/r/elsewhere` as RoomUri, ADMIN)).rejects.toMatchObject({
      code: ErrorCode.NotFound,
      message: expect.stringContaining(`${DOMAIN_B} has no room`),
    });
    expect([...pair.a.platform.rooms.keys()]).toEqual([ROOM_ID]);
  });

  it('unlinks, and says NotFound for a room that is not bridged', async () => {
    await host.unlink(memoryRoom(ROOM_ID), ADMIN);
    await expect(host.status(memoryRoom(ROOM_ID))).resolves.toBeUndefined();
    await expect(host.unlink(memoryRoom(ROOM_ID), ADMIN)).rejects.toMatchObject({ code: ErrorCode.NotFound });
  });
});
