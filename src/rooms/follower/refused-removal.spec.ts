import { Platform, type UserUri } from '../../common/ids';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import type { PlatformBridge } from '../../ports';
import type { RoomSupport } from '../room-support';
import { restoreRefusedRemoval } from './refused-removal';

const ROOM = {
  roomUri: 'mimi://a.example/r/lobby',
  role: 'follower',
  hubDomain: 'a.example',
  platform: Platform.Xmpp,
  legacyRoomId: 'lobby@muc.b.test',
} as RoomRecord;
const CAROL = 'mimi://c.example/u/memory:carol' as UserUri;

function setup(bridge: Partial<PlatformBridge>) {
  const logs: string[] = [];
  const support = {
    bridge: () => bridge as PlatformBridge,
    legacyRoom: (r: RoomRecord) => ({ platform: r.platform, roomId: r.legacyRoomId }),
    profiles: { remoteUser: async (_p: string, userUri: UserUri) => ({ userUri, displayName: 'Carol' }) },
  } as unknown as RoomSupport;
  const logger = { log: (m: string) => logs.push(`log ${m}`), warn: (m: string) => logs.push(`warn ${m}`) };
  return { support, logger, logs };
}

describe(restoreRefusedRemoval.name, () => {
  it('brings the ghost back into the mirror room, with its profile', async () => {
    const calls: unknown[] = [];
    const { support, logger, logs } = setup({
      setMembership: async (...args: unknown[]) => void calls.push(args),
    } as Partial<PlatformBridge>);
    await restoreRefusedRemoval(support, ROOM, CAROL, logger);
    expect(calls).toEqual([
      [{ platform: Platform.Xmpp, roomId: 'lobby@muc.b.test' }, { userUri: CAROL, displayName: 'Carol' }, 'join'],
    ]);
    expect(logs).toEqual([
      `log room=${ROOM.roomUri}: the hub refused the removal of ${CAROL}; its ghost is back in lobby@muc.b.test`,
    ]);
  });

  it('logs a platform failure instead of throwing (the user was told of the refusal already)', async () => {
    const { support, logger, logs } = setup({
      setMembership: async () => {
        throw new Error('MUC is gone');
      },
    } as Partial<PlatformBridge>);
    await expect(restoreRefusedRemoval(support, ROOM, CAROL, logger)).resolves.toBeUndefined();
    expect(logs).toEqual([`warn room=${ROOM.roomUri}: could not bring the ghost of ${CAROL} back: MUC is gone`]);
  });

  it('does nothing on a platform without puppet membership', async () => {
    const { support, logger, logs } = setup({});
    await restoreRefusedRemoval(support, ROOM, CAROL, logger);
    expect(logs).toEqual([]);
  });
});
