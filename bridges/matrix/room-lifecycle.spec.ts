import type { MatrixEvent } from './matrix-event.mapper';
import { encryptedLinkRefusal, encryptedRoomRefusal, lifecycleNotice } from './room-lifecycle';

const ROOM = '!room:hs';

function stateEvent(type: string, content: Record<string, unknown>, stateKey = ''): MatrixEvent {
  return { type, content, state_key: stateKey, room_id: ROOM, sender: '@alice:hs', event_id: '$e' } as MatrixEvent;
}

describe('room lifecycle: what the gateway cannot bridge is said, not lost', () => {
  it('refuses to link an encrypted room, naming the algorithm', async () => {
    const client = { getRoomStateEvent: jest.fn(async () => ({ algorithm: 'm.megolm.v1.aes-sha2' })) };
    const refusal = await encryptedRoomRefusal(client, ROOM);
    expect(refusal).toMatch(/end-to-end encrypted \(m\.megolm\.v1\.aes-sha2\).*does not link encrypted rooms/);
    expect(client.getRoomStateEvent).toHaveBeenCalledWith(ROOM, 'm.room.encryption', '');
  });

  it('links a room without m.room.encryption (404) or with an emptied one', async () => {
    const absent = {
      getRoomStateEvent: jest.fn(async () => Promise.reject({ statusCode: 404, errcode: 'M_NOT_FOUND' })),
    };
    expect(await encryptedRoomRefusal(absent, ROOM)).toBeUndefined();
    expect(encryptedLinkRefusal({})).toBeUndefined();
  });

  it('does not link when the state cannot be read (the error is the answer, not a guess)', async () => {
    const failing = { getRoomStateEvent: jest.fn(async () => Promise.reject({ statusCode: 502 })) };
    await expect(encryptedRoomRefusal(failing, ROOM)).rejects.toEqual({ statusCode: 502 });
  });

  it('tells a linked room that turns encryption on that its messages stop crossing', () => {
    expect(lifecycleNotice(stateEvent('m.room.encryption', { algorithm: 'm.megolm.v1.aes-sha2' }))).toMatch(
      /now uses end-to-end encryption.*do not reach the MIMI room/,
    );
  });

  it('leaves a tombstone to the upgrade follower (room-upgrade.ts), which moves the link instead', () => {
    expect(
      lifecycleNotice(stateEvent('m.room.tombstone', { body: 'upgraded', replacement_room: '!new:hs' })),
    ).toBeUndefined();
  });

  it.each([
    ['a message', { ...stateEvent('m.room.message', { body: 'hi' }), state_key: undefined } as MatrixEvent],
    ['a tombstone without a replacement', stateEvent('m.room.tombstone', { body: 'gone' })],
    ['a state event with a state_key', stateEvent('m.room.encryption', { algorithm: 'x' }, 'k')],
    ['an emptied (redacted) encryption event', stateEvent('m.room.encryption', {})],
  ])('says nothing for %s', (_what, ev) => {
    expect(lifecycleNotice(ev)).toBeUndefined();
  });
});
