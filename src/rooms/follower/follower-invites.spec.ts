import { ErrorCode, type GatewayError } from '../../common/errors';
import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import {
  type KeyMaterialRequest,
  type UpdateRoomResponse,
  asKeyPackage,
  decodeAll,
  encodeValue,
  keyMaterialRequestCodec,
  keyMaterialResponseCodec,
} from '../../mimi/wire';
import { GroupStore, HubExternalSender, InMemoryMlsStorage, type Participant } from '../../mls';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import type { FollowerService } from '../follower.service';
import { KeyMaterialClient } from '../key-material-client';
import type { MlsGroups } from '../mls-groups';
import { RoomLocks } from '../room-locks';
import type { RoomSupport } from '../room-support';
import type { MimiRequester } from '../rooms.tokens';
import { FollowerInvites } from './follower-invites';

const ROOM = {
  roomUri: 'mimi://a.example/r/lobby' as RoomUri,
  role: 'follower',
  hubDomain: 'a.example' as ProviderDomain,
  platform: 'xmpp',
  legacyRoomId: 'lobby@muc.b.test',
} as RoomRecord;
const BOB = 'mimi://b.example/u/xmpp:bob' as UserUri;
const CAROL = 'mimi://c.example/u/memory:carol' as UserUri;
const MEMBER = 3;

interface Setup {
  readonly keyMaterialStatus?: number;
  readonly userStatus?: 'success' | 'noConsent';
  readonly updates?: UpdateRoomResponse[];
  readonly participants?: Participant[];
  readonly local?: boolean;
}

async function setup(opts: Setup = {}) {
  const carolKp = (await new GroupStore(new InMemoryMlsStorage()).createKeyPackage(CAROL)).keyPackage;
  const requests: { to: string; request: KeyMaterialRequest }[] = [];
  const requester: MimiRequester = {
    request: async (to, _endpoint, _uri, body) => {
      requests.push({ to, request: decodeAll(body, keyMaterialRequestCodec) });
      if (opts.keyMaterialStatus !== undefined) return { status: opts.keyMaterialStatus, body: new Uint8Array() };
      const ok = (opts.userStatus ?? 'success') === 'success';
      return {
        status: 200,
        body: encodeValue(
          {
            protocol: 'mls10',
            userStatus: opts.userStatus ?? 'success',
            userUri: CAROL,
            clients: ok ? [{ clientStatus: 'success', clientUri: CAROL, keyPackage: asKeyPackage(carolKp) }] : [],
          },
          keyMaterialResponseCodec,
        ),
      };
    },
  } as MimiRequester;
  const participants = opts.participants ?? [{ user: BOB, roleIndex: MEMBER }];
  const group = {
    isLocalMember: (u: string) => (opts.local ?? true) && u === BOB,
    coreState: { context: { extensions: [] } },
  };
  const groups = {
    group: async () => group,
    summaryOf: () => ({ participants, members: [{ user: BOB }] }),
    hub: async () => HubExternalSender.generate('b.example' as ProviderDomain),
  } as unknown as MlsGroups;
  const changes: { committer: UserUri; list: Participant[]; add: number }[] = [];
  const updates = [...(opts.updates ?? [{ responseCode: 'success', errorDescription: '', acceptedTimestamp: 1n }])];
  const waits: bigint[] = [];
  const follower = {
    requestChange: async (
      _room: RoomRecord,
      _group: unknown,
      committer: UserUri,
      change: (l: readonly Participant[]) => Participant[],
      more: { add?: readonly Uint8Array[] },
    ) => {
      changes.push({ committer, list: change(participants), add: more.add?.length ?? 0 });
      return updates.shift()!;
    },
    waitForEpoch: async (_r: RoomUri, epoch: bigint) => (waits.push(epoch), true),
  } as unknown as FollowerService;
  const support = { now: () => Date.now() } as unknown as RoomSupport;
  const invites = new FollowerInvites(support, groups, new RoomLocks(), new KeyMaterialClient(requester), follower);
  return { invites, requests, changes, waits };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as GatewayError,
  );

describe(FollowerInvites.name, () => {
  it('asks the HUB for the key material (signed by us, for the room, as the inviter), then the inviter commits the Add', async () => {
    const { invites, requests, changes } = await setup();
    await invites.invite(ROOM, CAROL, BOB);
    expect(requests.map((r) => r.to)).toEqual(['a.example']);
    expect(requests[0]!.request).toMatchObject({ requestingUser: BOB, targetUser: CAROL, roomId: ROOM.roomUri });
    expect(changes).toEqual([
      {
        committer: BOB,
        list: [
          { user: BOB, roleIndex: MEMBER },
          { user: CAROL, roleIndex: MEMBER },
        ],
        add: 1,
      },
    ]);
  });

  it('tries again once our clients caught up when the hub answers wrongEpoch', async () => {
    const { invites, changes, waits } = await setup({
      updates: [
        { responseCode: 'wrongEpoch', errorDescription: 'behind', currentEpoch: 7n },
        { responseCode: 'success', errorDescription: '', acceptedTimestamp: 1n },
      ],
    });
    await invites.invite(ROOM, CAROL, BOB);
    expect(waits).toEqual([7n]);
    expect(changes).toHaveLength(2);
  });

  it('refuses with the hub’s reason (NotAllowed) when the hub refuses the commit', async () => {
    const { invites } = await setup({
      updates: [{ responseCode: 'notAllowed', errorDescription: 'its role lacks canAddParticipant' }],
    });
    expect(await failure(invites.invite(ROOM, CAROL, BOB))).toMatchObject({
      code: ErrorCode.NotAllowed,
      message: 'the hub a.example refused the invite: notAllowed its role lacks canAddParticipant',
    });
  });

  it('refuses with the key material refusal, and commits nothing', async () => {
    const noConsent = await setup({ userStatus: 'noConsent' });
    expect(await failure(noConsent.invites.invite(ROOM, CAROL, BOB))).toMatchObject({ code: ErrorCode.Forbidden });
    expect(noConsent.changes).toEqual([]);
    const notFound = await setup({ keyMaterialStatus: 404 });
    expect(await failure(notFound.invites.invite(ROOM, CAROL, BOB))).toMatchObject({ code: ErrorCode.NotFound });
    const down = await setup({ keyMaterialStatus: 503 });
    expect(await failure(down.invites.invite(ROOM, CAROL, BOB))).toMatchObject({
      code: ErrorCode.PeerUnavailable,
      retryable: true,
    });
  });

  it('refuses an inviter without a client in the room and a banned invitee, without asking anybody', async () => {
    const stranger = await setup({ local: false });
    expect(await failure(stranger.invites.invite(ROOM, CAROL, BOB))).toMatchObject({ code: ErrorCode.NotAllowed });
    const banned = await setup({
      participants: [
        { user: BOB, roleIndex: MEMBER },
        { user: CAROL, roleIndex: 1 },
      ],
    });
    expect(await failure(banned.invites.invite(ROOM, CAROL, BOB))).toMatchObject({
      code: ErrorCode.NotAllowed,
      message: `${CAROL} is banned`,
    });
    expect([...stranger.requests, ...banned.requests]).toEqual([]);
  });
});
