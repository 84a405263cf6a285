import { Platform } from '../../src/common/ids';
import type { Intent } from 'matrix-appservice-bridge';
import { MatrixIds } from './matrix-ids';
import { MatrixUsers, mxidOfHandle } from './matrix-users';

const IDS = new MatrixIds('_mimi_', 'hs.example', 'mimibot');

/** A bot whose homeserver knows `profiles` (404 for anyone else) and records invites. */
function bot(profiles: Record<string, { displayname?: string }>, inviteError?: unknown) {
  const invites: [string, string][] = [];
  const intent = {
    matrixClient: {
      getUserProfile: async (mxid: string) => {
        if (profiles[mxid]) return profiles[mxid];
        throw Object.assign(new Error('Profile was not found'), { statusCode: 404, errcode: 'M_NOT_FOUND' });
      },
      inviteUser: async (mxid: string, roomId: string) => {
        if (inviteError) throw inviteError;
        invites.push([mxid, roomId]);
      },
    },
  } as unknown as Intent;
  return { users: new MatrixUsers({ bot: () => intent, ids: IDS }), invites };
}

describe(mxidOfHandle.name, () => {
  it.each([
    ['@carol:hs.example', '@carol:hs.example'],
    [' @carol:hs.example:8448 ', '@carol:hs.example:8448'],
    ['matrix:u/carol:hs.example', '@carol:hs.example'],
    ['matrix:u/carol%3Ahs.example?action=chat', '@carol:hs.example'],
  ])('%j → %s', (handle, mxid) => expect(mxidOfHandle(handle)).toBe(mxid));

  it.each(['carol', '@carol', 'xmpp:carol@hs.example', 'matrix:r/room:hs.example', '@ca rol:hs'])('%j is none', (h) =>
    expect(mxidOfHandle(h)).toBeUndefined(),
  );
});

describe(MatrixUsers.name, () => {
  it('finds a user of this homeserver by user ID, matrix: URI or nick, with the display name', async () => {
    const { users } = bot({ '@carol:hs.example': { displayname: 'Carol' } });
    const found = { kind: 'found', userId: '@carol:hs.example', displayName: 'Carol' };
    await expect(users.lookup({ type: 'handle', value: '@carol:hs.example' })).resolves.toEqual(found);
    await expect(users.lookup({ type: 'handle', value: 'matrix:u/carol:hs.example' })).resolves.toEqual(found);
    await expect(users.lookup({ type: 'nick', value: 'carol' })).resolves.toEqual(found);
  });

  it('answers notFound for a user the homeserver does not have, and for the bot and ghosts', async () => {
    const { users } = bot({});
    await expect(users.lookup({ type: 'handle', value: '@nobody:hs.example' })).resolves.toEqual({
      kind: 'notFound',
      reason: 'hs.example has no user @nobody:hs.example',
    });
    for (const value of ['@mimibot:hs.example', '@_mimi_b.example_bob:hs.example']) {
      await expect(users.lookup({ type: 'handle', value })).resolves.toMatchObject({ kind: 'notFound' });
    }
  });

  it('leaves other homeservers’ users and other addresses to others (notMine)', async () => {
    const { users } = bot({});
    for (const value of ['@carol:other.example', 'xmpp:bob@hs.example', 'bob']) {
      await expect(users.lookup({ type: 'handle', value })).resolves.toEqual({ kind: 'notMine' });
    }
  });

  it('passes on a homeserver failure other than 404', async () => {
    const intent = {
      matrixClient: { getUserProfile: () => Promise.reject(Object.assign(new Error('down'), { statusCode: 502 })) },
    } as unknown as Intent;
    await expect(
      new MatrixUsers({ bot: () => intent, ids: IDS }).lookup({ type: 'handle', value: '@a:hs.example' }),
    ).rejects.toThrow('down');
  });

  it('invites as the bot; a user who is in the room already is no failure, another refusal is', async () => {
    const { users, invites } = bot({});
    await users.invite({ platform: Platform.Matrix, roomId: '!r:hs.example' }, {
      platform: 'matrix',
      userId: '@c:hs.example',
    } as never);
    expect(invites).toEqual([['@c:hs.example', '!r:hs.example']]);
    const member = Object.assign(new Error('forbidden'), {
      statusCode: 403,
      body: { errcode: 'M_FORBIDDEN', error: '@c:hs.example is already in the room.' },
    });
    await expect(
      bot({}, member).users.invite({ platform: Platform.Matrix, roomId: '!r' }, {
        platform: 'matrix',
        userId: '@c:hs.example',
      } as never),
    ).resolves.toBeUndefined();
    const banned = Object.assign(new Error('banned'), {
      statusCode: 403,
      body: { errcode: 'M_FORBIDDEN', error: 'user is banned' },
    });
    await expect(
      bot({}, banned).users.invite({ platform: Platform.Matrix, roomId: '!r' }, {
        platform: 'matrix',
        userId: '@c:hs.example',
      } as never),
    ).rejects.toThrow('banned');
  });
});
