import { PlatformError, ErrorCode } from '../common/errors';
import { Platform, type UserUri } from '../common/ids';
import type { PlatformBridge, RemoteUser } from '../ports';
import { ProfileSync } from './profile-sync';

const ALICE = 'mimi://a.example/u/matrix:%40alice%3Ahs' as UserUri;

function bridgeWithProfiles(fail = false): PlatformBridge & { setProfile: jest.Mock } {
  const setProfile = jest.fn(async (_u: RemoteUser) => {
    if (fail) throw new PlatformError(ErrorCode.PlatformUnavailable, 'xmpp down');
  });
  return { platform: Platform.Xmpp, setProfile } as unknown as PlatformBridge & { setProfile: jest.Mock };
}

describe('ProfileSync', () => {
  const logger = { warn: jest.fn() };

  it('tells the bridge a new profile once, and again only when it changes (a rename)', async () => {
    const bridge = bridgeWithProfiles();
    const sync = new ProfileSync(() => bridge, logger);
    expect(await sync.remoteUser(Platform.Xmpp, ALICE, { displayName: 'Alice' })).toEqual({
      userUri: ALICE,
      displayName: 'Alice',
    });
    await sync.remoteUser(Platform.Xmpp, ALICE, { displayName: 'Alice' });
    expect(bridge.setProfile).toHaveBeenCalledTimes(1);
    await sync.remoteUser(Platform.Xmpp, ALICE, { displayName: 'Alice L.' });
    expect(bridge.setProfile).toHaveBeenCalledTimes(2);
    expect(bridge.setProfile).toHaveBeenLastCalledWith({ userUri: ALICE, displayName: 'Alice L.' });
  });

  it('remembers the last profile: a later join without one gets the name', async () => {
    const bridge = bridgeWithProfiles();
    const sync = new ProfileSync(() => bridge, logger);
    await sync.remoteUser(Platform.Xmpp, ALICE, { displayName: 'Alice', avatarUrl: 'https://x.example/a.png' });
    await sync.remoteUser(Platform.Xmpp, ALICE, { displayName: 'Alice 2' });
    expect(await sync.remoteUser(Platform.Xmpp, ALICE)).toEqual({
      userUri: ALICE,
      displayName: 'Alice 2',
      avatarUrl: 'https://x.example/a.png',
    });
  });

  it('without any profile the user is just the URI, and the bridge is not called', async () => {
    const bridge = bridgeWithProfiles();
    const sync = new ProfileSync(() => bridge, logger);
    expect(await sync.remoteUser(Platform.Xmpp, ALICE)).toEqual({ userUri: ALICE });
    expect(await sync.remoteUser(Platform.Xmpp, ALICE, {})).toEqual({ userUri: ALICE });
    expect(bridge.setProfile).not.toHaveBeenCalled();
  });

  it('a bridge that fails is logged, the message goes on, and the profile is tried again next time', async () => {
    const failing = bridgeWithProfiles(true);
    const sync = new ProfileSync(() => failing, logger);
    expect(await sync.remoteUser(Platform.Xmpp, ALICE, { displayName: 'Alice' })).toEqual({
      userUri: ALICE,
      displayName: 'Alice',
    });
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining('xmpp down'));
    await sync.remoteUser(Platform.Xmpp, ALICE, { displayName: 'Alice' });
    expect(failing.setProfile).toHaveBeenCalledTimes(2);
  });

  it('a bridge without the Profiles capability still gets the name with the post', async () => {
    const plain = { platform: Platform.Xmpp } as unknown as PlatformBridge;
    const sync = new ProfileSync(() => plain, logger);
    expect(await sync.remoteUser(Platform.Xmpp, ALICE, { displayName: 'Alice' })).toEqual({
      userUri: ALICE,
      displayName: 'Alice',
    });
  });

  describe('avatars', () => {
    const PNG = { bytes: new Uint8Array([1, 2, 3]), contentType: 'image/png' };
    const ROOM1 = 'https://a.example/mimiAsset/r1/a.example/AAAAAAAAAAAAAAAAAAAA';
    const ROOM2 = 'https://a.example/mimiAsset/r2/a.example/BBBBBBBBBBBBBBBBBBBB';

    it('fetches the image and gives the bridge its bytes; the same image through another room is not set again', async () => {
      const bridge = bridgeWithProfiles();
      const sync = new ProfileSync(() => bridge, logger);
      const fetched: string[] = [];
      sync.useAvatarSource(async (url) => {
        fetched.push(url);
        return PNG;
      });
      await sync.remoteUser(Platform.Matrix, ALICE, { displayName: 'Alice', avatarUrl: ROOM1 });
      expect(bridge.setProfile).toHaveBeenLastCalledWith(
        { userUri: ALICE, displayName: 'Alice', avatarUrl: ROOM1 },
        PNG,
      );
      await sync.remoteUser(Platform.Matrix, ALICE, { displayName: 'Alice', avatarUrl: ROOM1 });
      await sync.remoteUser(Platform.Matrix, ALICE, { displayName: 'Alice', avatarUrl: ROOM2 });
      await sync.remoteUser(Platform.Matrix, ALICE, { displayName: 'Alice', avatarUrl: ROOM1 });
      expect(fetched).toEqual([ROOM1, ROOM2]);
      expect(bridge.setProfile).toHaveBeenCalledTimes(1);
    });

    it('a new image is set again', async () => {
      const bridge = bridgeWithProfiles();
      const sync = new ProfileSync(() => bridge, logger);
      let image = PNG;
      sync.useAvatarSource(async () => image);
      await sync.remoteUser(Platform.Matrix, ALICE, { avatarUrl: ROOM1 });
      image = { bytes: new Uint8Array([4]), contentType: 'image/gif' };
      await sync.remoteUser(Platform.Matrix, ALICE, { avatarUrl: ROOM2 });
      expect(bridge.setProfile).toHaveBeenCalledTimes(2);
      expect(bridge.setProfile).toHaveBeenLastCalledWith({ userUri: ALICE, avatarUrl: ROOM2 }, image);
    });

    it('an avatar that cannot be fetched is logged; the name is set all the same', async () => {
      const bridge = bridgeWithProfiles();
      const warn = jest.fn();
      const sync = new ProfileSync(() => bridge, { warn });
      sync.useAvatarSource(async () => {
        throw new Error('peer down');
      });
      await sync.remoteUser(Platform.Matrix, ALICE, { displayName: 'Alice', avatarUrl: ROOM1 });
      expect(bridge.setProfile).toHaveBeenCalledWith({ userUri: ALICE, displayName: 'Alice', avatarUrl: ROOM1 });
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('peer down'));
    });
  });
});
