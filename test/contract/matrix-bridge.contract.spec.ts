import { Logger } from '@nestjs/common';
import { Platform } from '../../src/common/ids';
import { MATRIX_SERVER_NAME, startMatrixHarness } from '../kits/matrix/matrix-harness';
import { describePlatformBridgeContract } from './platform-bridge.contract';

/** The Matrix bridge against the fake homeserver on loopback (test/kits/matrix/fake-homeserver.ts). */
beforeAll(() => Logger.overrideLogger(false));

describePlatformBridgeContract({
  name: 'MatrixBridge (fake homeserver)',
  capabilities: { puppetMembership: true, moderation: true, roles: true, mirrorRooms: true, joinRules: true },
  async start(sink) {
    const h = await startMatrixHarness({}, sink);
    const roomId = h.hs.createRoom(h.alice, { joinRule: 'public', name: 'Lobby' });
    const bob = `@bob:${MATRIX_SERVER_NAME}`;
    h.hs.emit(roomId, bob, 'm.room.member', { membership: 'join', displayname: 'Bob' }, bob);
    await h.hs.settled();
    return {
      bridge: h.bridge,
      room: { platform: Platform.Matrix, roomId },
      joinRule: 'public',
      native: { platform: Platform.Matrix, userId: h.alice },
      other: { platform: Platform.Matrix, userId: bob },
      async nativePost(text) {
        h.hs.emit(roomId, h.alice, 'm.room.message', { msgtype: 'm.text', body: text });
        await h.hs.settled();
      },
      redeliver: () => h.hs.redeliver(),
      texts: () =>
        h.hs
          .timeline(roomId)
          .filter((e) => e.type === 'm.room.message')
          .map((e) => String(e.content['body'])),
      stop: () => h.stop(),
    };
  },
});
