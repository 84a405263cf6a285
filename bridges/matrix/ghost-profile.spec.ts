import type { Intent } from 'matrix-appservice-bridge';
import { setGhostProfile, setRoomProfile } from './ghost-profile';

const GHOST = '@_mimi_bob:hs';

/** An Intent whose client keeps member events per room and records the writes. */
function homeserver(members: Record<string, Record<string, unknown>>) {
  const writes: [string, string, unknown][] = [];
  const doRequest = async (method: string, path: string, _qs: unknown, body: unknown) => {
    if (method !== 'GET') writes.push([method, decodeURIComponent(path), body]);
    if (path === '/_matrix/client/v3/joined_rooms') return { joined_rooms: Object.keys(members) };
    const state = /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/state\/m\.room\.member\//.exec(path);
    if (state !== null) {
      const roomId = decodeURIComponent(state[1]!);
      if (method === 'PUT') members[roomId] = body as Record<string, unknown>;
      return method === 'GET' ? members[roomId] : {};
    }
    return {};
  };
  return { ghost: { id: GHOST, intent: { matrixClient: { doRequest } } as unknown as Intent }, writes, members };
}

describe('setGhostProfile', () => {
  it('sets the global profile, then writes the member event of each joined room whose profile differs', async () => {
    const hs = homeserver({
      '!a:hs': { membership: 'join', displayname: '_mimi_bob' },
      '!b:hs': { membership: 'join', displayname: 'bob', avatar_url: 'mxc://hs/x' },
    });
    const joined: [string, unknown][] = [];
    await setGhostProfile(hs.ghost, { displayname: 'bob', avatar_url: 'mxc://hs/x' }, (r, p) => joined.push([r, p]));
    expect(hs.writes).toEqual([
      ['PUT', `/_matrix/client/v3/profile/${GHOST}/displayname`, { displayname: 'bob' }],
      ['PUT', `/_matrix/client/v3/profile/${GHOST}/avatar_url`, { avatar_url: 'mxc://hs/x' }],
      [
        'PUT',
        `/_matrix/client/v3/rooms/!a:hs/state/m.room.member/${GHOST}`,
        { membership: 'join', displayname: 'bob', avatar_url: 'mxc://hs/x' },
      ],
    ]);
    expect(joined).toEqual([
      ['!a:hs', { displayname: 'bob', avatar_url: 'mxc://hs/x' }],
      ['!b:hs', { displayname: 'bob', avatar_url: 'mxc://hs/x' }],
    ]);
  });

  it('leaves out what is not given, and keeps the rest of the member content', async () => {
    const hs = homeserver({ '!a:hs': { membership: 'join', avatar_url: 'mxc://hs/old', reason: 'kept' } });
    await setRoomProfile(hs.ghost, '!a:hs', { displayname: 'bobby' });
    expect(hs.members['!a:hs']).toEqual({
      membership: 'join',
      avatar_url: 'mxc://hs/old',
      reason: 'kept',
      displayname: 'bobby',
    });
  });
});
