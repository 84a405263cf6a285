import { ErrorCode, type GatewayError } from '../common/errors';
import { Platform, type RoomUri, type UserUri } from '../common/ids';
import type { RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import type { InboundEvent, PlatformBridge, UserLookup } from '../ports';
import type { AddressResolver } from './address-resolver';
import type { FollowerInvites } from './follower/follower-invites';
import type { HubService } from './hub.service';
import { RemoteInvites } from './invites';
import { RefusalLog } from './key-material-refusal';
import { RoomLocks } from './room-locks';
import type { RoomSupport } from './room-support';

const HUBBED = {
  roomUri: 'mimi://a.example/r/lobby',
  role: 'hub',
  hubDomain: 'a.example',
  platform: 'matrix',
  legacyRoomId: '!lobby:hs',
} as RoomRecord;
const MIRROR = {
  roomUri: 'mimi://c.example/r/far',
  role: 'follower',
  hubDomain: 'c.example',
  platform: 'matrix',
  legacyRoomId: '!far:hs',
} as RoomRecord;
const ALICE = { platform: Platform.Matrix, userId: '@alice:hs' };
const BOB = 'mimi://b.example/u/xmpp:bob%40b.test' as UserUri;

function setup(opts: { addsUser?: boolean; local?: Record<string, string> } = {}) {
  const participants: UserUri[] = [];
  const events: InboundEvent[] = [];
  const refusals = new RefusalLog();
  const bridge = {
    platform: 'matrix',
    lookupUser: async (s: { value: string }): Promise<UserLookup> =>
      opts.local?.[s.value] ? { kind: 'found', userId: opts.local[s.value]! } : { kind: 'notMine' },
  } as unknown as PlatformBridge;
  const support = {
    allBridges: () => [bridge],
    domain: 'a.example',
    isOurs: (u: string) => u.startsWith('mimi://a.example/'),
    legacyRoom: (r: RoomRecord) => ({ platform: r.platform, roomId: r.legacyRoomId }),
    groupView: async () => ({ participants: participants.map((user) => ({ user, roleIndex: 1 })) }),
  } as unknown as RoomSupport;
  const rooms = {
    findByLegacyRoom: async (_tx: unknown, _p: string, id: string) =>
      [HUBBED, MIRROR].find((r) => r.legacyRoomId === id),
    findByUri: async (_tx: unknown, uri: string) => [HUBBED, MIRROR].find((r) => r.roomUri === uri),
  } as unknown as RoomRepository;
  const hub = {
    refusals,
    onLegacyEvent: async (room: RoomRecord, event: InboundEvent) => {
      events.push(event);
      const user = (event as { user: { userUri: UserUri } }).user.userUri;
      if (opts.addsUser !== false) participants.push(user);
      else {
        refusals.remember(room.roomUri, user, {
          code: ErrorCode.NotFound,
          message: `${user} cannot be added: b.example has no such user (userUnknown)`,
        });
      }
    },
  } as unknown as HubService;
  const resolved: string[] = [];
  const resolver = { resolve: async (a: string) => (resolved.push(a), BOB) } as unknown as AddressResolver;
  const throughHub: { room: string; target: string; inviter: string }[] = [];
  const followerInvites = {
    invite: async (room: RoomRecord, target: UserUri, inviter: UserUri) => {
      throughHub.push({ room: room.roomUri, target, inviter });
    },
  } as unknown as FollowerInvites;
  return {
    invites: new RemoteInvites(support, rooms, hub, new RoomLocks(), resolver, followerInvites),
    events,
    resolved,
    throughHub,
  };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => (e as GatewayError).code,
  );

describe(RemoteInvites.name, () => {
  it('resolves the address and adds the user as an invite by the asking user', async () => {
    const { invites, events, resolved } = setup();
    await expect(
      invites.inviteAddress({ platform: Platform.Matrix, roomId: '!lobby:hs' }, 'xmpp:bob@b.test', ALICE),
    ).resolves.toBe(BOB);
    expect(resolved).toEqual(['xmpp:bob@b.test']);
    expect(events).toMatchObject([{ kind: 'membership', membership: 'invite', user: { userUri: BOB }, by: ALICE }]);
  });

  it('refuses with the provider’s reason when the user could not be added', async () => {
    const { invites } = setup({ addsUser: false });
    const e = await invites.inviteUri(HUBBED.roomUri as RoomUri, BOB).catch((x: unknown) => x as GatewayError);
    expect(e).toMatchObject({
      code: ErrorCode.NotFound,
      message: `${BOB} cannot be added: b.example has no such user (userUnknown)`,
    });
  });

  it('in a mirror room, has the inviter add the user through the hub (FollowerInvites), not the hub service', async () => {
    const { invites, events, throughHub } = setup();
    await expect(
      invites.inviteAddress({ platform: Platform.Matrix, roomId: '!far:hs' }, 'xmpp:bob@b.test', ALICE),
    ).resolves.toBe(BOB);
    expect(throughHub).toEqual([
      { room: MIRROR.roomUri, target: BOB, inviter: 'mimi://a.example/u/matrix:%40alice%3Ahs' },
    ]);
    expect(events).toEqual([]);
  });

  it('refuses a room that is not linked and a user of this gateway', async () => {
    const { invites, resolved, events, throughHub } = setup({ local: { '@carl:hs': '@carl:hs' } });
    expect(
      await codeOf(invites.inviteAddress({ platform: Platform.Matrix, roomId: '!nope:hs' }, 'xmpp:bob@b.test', ALICE)),
    ).toBe(ErrorCode.NotFound);
    expect(
      await codeOf(invites.inviteAddress({ platform: Platform.Matrix, roomId: '!far:hs' }, '@carl:hs', ALICE)),
    ).toBe(ErrorCode.BadValue);
    expect(throughHub).toEqual([]);
    expect(
      await codeOf(invites.inviteAddress({ platform: Platform.Matrix, roomId: '!lobby:hs' }, '@carl:hs', ALICE)),
    ).toBe(ErrorCode.BadValue);
    expect(
      await codeOf(invites.inviteUri(HUBBED.roomUri as RoomUri, 'mimi://a.example/u/matrix:%40carl%3Ahs' as UserUri)),
    ).toBe(ErrorCode.BadValue);
    expect(resolved).toEqual([]);
    expect(events).toEqual([]);
  });
});
