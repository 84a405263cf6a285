import { ErrorCode, type GatewayError } from '../../common/errors';
import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import { type KeyMaterialRequest, asKeyPackage, decodeAll, keyMaterialRequestCodec } from '../../mimi/wire';
import { encodeValue, keyMaterialResponseCodec } from '../../mimi/wire';
import { GroupStore, HubExternalSender, InMemoryMlsStorage, type Participant } from '../../mls';
import type { DbMlsStorage } from '../../persistence/db-mls-storage';
import type { RoomRecord, RoomRepository } from '../../persistence/repositories/room.repository';
import { ParticipantRole } from '../../ports';
import { KeyMaterialClient } from '../key-material-client';
import type { MlsGroups } from '../mls-groups';
import { RoomLocks } from '../room-locks';
import { roleIndexOf } from '../room-policy';
import type { RoomSupport } from '../room-support';
import type { MimiRequester } from '../rooms.tokens';
import { hubKeyMaterialRequest } from '../wire-support';
import { KeyMaterialProxy } from './key-material-proxy';
import { KeyPackageRoutes } from './key-package-routes';
import {
  type RequiredCapabilities,
  makeExtension,
  requiredCapabilitiesExtension,
} from '../../mls/core/structs/extensions';

const A = 'a.example' as ProviderDomain;
const B = 'b.example' as ProviderDomain;
const C = 'c.example' as ProviderDomain;
const ROOM = 'mimi://a.example/r/lobby' as RoomUri;
const BOB = 'mimi://b.example/u/xmpp:bob' as UserUri;
const STRANGER = 'mimi://b.example/u/xmpp:stranger' as UserUri;
const CAROL = 'mimi://c.example/u/memory:carol' as UserUri;
const MEMBER = roleIndexOf(ParticipantRole.Member);
const b = HubExternalSender.generate(B);

function request(requestingUser: UserUri = BOB, fields: Partial<KeyMaterialRequest> = {}): KeyMaterialRequest {
  return { ...hubKeyMaterialRequest(b, { requestingUser, targetUser: CAROL, roomId: ROOM }), ...fields };
}

async function setup(
  answer?: (body: Uint8Array) => { status: number; body: Uint8Array },
  required?: RequiredCapabilities,
) {
  const participants: Participant[] = [{ user: BOB, roleIndex: MEMBER }];
  // No roles_list: the default roles (members may add participants, rolesOf).
  const extensions = required === undefined ? [] : [makeExtension(requiredCapabilitiesExtension, required)];
  const groups = {
    requireGroup: async () => ({ coreState: { context: { extensions } } }),
    view: async () => ({ participants }),
  } as unknown as MlsGroups;
  const rooms = {
    findByUri: async (_tx: unknown, uri: string) =>
      uri === ROOM ? ({ roomUri: ROOM, role: 'hub', hubDomain: A } as RoomRecord) : undefined,
  } as unknown as RoomRepository;
  const support = { domain: A, now: () => Date.now() } as unknown as RoomSupport;
  const carolKeyPackage = (await new GroupStore(new InMemoryMlsStorage()).createKeyPackage(CAROL)).keyPackage;
  const sent: { to: string; endpoint: string; request: KeyMaterialRequest }[] = [];
  const requester: MimiRequester = {
    request: async (to, endpoint, _uri, body) => {
      sent.push({ to, endpoint, request: decodeAll(body, keyMaterialRequestCodec) });
      return (
        answer?.(body) ?? {
          status: 200,
          body: encodeValue(
            {
              protocol: 'mls10',
              userStatus: 'success',
              userUri: CAROL,
              clients: [{ clientStatus: 'success', clientUri: CAROL, keyPackage: asKeyPackage(carolKeyPackage) }],
            },
            keyMaterialResponseCodec,
          ),
        }
      );
    },
  } as MimiRequester;
  const routes = new KeyPackageRoutes(new InMemoryMlsStorage() as unknown as DbMlsStorage);
  const proxy = new KeyMaterialProxy(support, rooms, groups, new RoomLocks(), new KeyMaterialClient(requester), routes);
  return { proxy, sent, routes, carolKeyPackage };
}

describe(KeyMaterialProxy.name, () => {
  it('passes a follower’s request on to the target’s provider unchanged and records where the KeyPackage came from', async () => {
    const { proxy, sent, routes } = await setup();
    const r = request();
    const response = await proxy.keyMaterial(B, CAROL, r);
    expect(response.userStatus).toBe('success');
    expect(sent).toEqual([{ to: C, endpoint: 'keyMaterial', request: r }]);
    const kp = response.clients[0]!;
    if (kp.clientStatus !== 'success') throw new Error('no KeyPackage');
    const ref = new GroupStore(new InMemoryMlsStorage()).checkKeyPackage(kp.keyPackage).ref;
    expect(await routes.lookup(ref, ROOM, Date.now())).toMatchObject({ provider: C, requester: B, user: CAROL });
  });

  it('answers userUnknown for a room it does not hub (it answers only for its own users otherwise)', async () => {
    const { proxy, sent } = await setup();
    const elsewhere = 'mimi://d.example/r/x';
    expect((await proxy.keyMaterial(B, CAROL, request(BOB, { roomId: elsewhere }))).userStatus).toBe('userUnknown');
    expect((await proxy.keyMaterial(B, CAROL, request(BOB, { roomId: '' }))).userStatus).toBe('userUnknown');
    expect(sent).toEqual([]);
  });

  it('answers noConsent to a request not signed by the caller, or asked by a user who may not add participants', async () => {
    const { proxy, sent } = await setup();
    // Signed by b.example, but sent by c.example.
    expect((await proxy.keyMaterial(C, CAROL, request())).userStatus).toBe('noConsent');
    // A tampered request: the signature does not verify.
    expect((await proxy.keyMaterial(B, CAROL, { ...request(), targetUser: BOB })).userStatus).toBe('noConsent');
    // Not a participant of the room.
    expect((await proxy.keyMaterial(B, CAROL, request(STRANGER))).userStatus).toBe('noConsent');
    expect(sent).toEqual([]);
  });

  it('answers noCompatibleMaterial when the target’s KeyPackages lack the room’s required capabilities', async () => {
    // The room requires an extension C's clients do not support.
    const { proxy, routes, carolKeyPackage } = await setup(undefined, {
      extensionTypes: [0xff42],
      proposalTypes: [],
      credentialTypes: [],
    });
    const response = await proxy.keyMaterial(B, CAROL, request());
    expect(response.userStatus).toBe('noCompatibleMaterial');
    expect(response.clients).toEqual([{ clientStatus: 'nothingCompatible', clientUri: CAROL }]);
    // Nothing recorded: no Welcome may be routed for it.
    const ref = new GroupStore(new InMemoryMlsStorage()).checkKeyPackage(carolKeyPackage).ref;
    expect(await routes.lookup(ref, ROOM, Date.now())).toBeUndefined();
  });

  it('turns the target provider’s HTTP refusal into an error with its code; 5xx is retryable', async () => {
    const notFound = await setup(() => ({ status: 404, body: new TextEncoder().encode('no such user') }));
    const e = await notFound.proxy.keyMaterial(B, CAROL, request()).catch((x: unknown) => x as GatewayError);
    expect(e).toMatchObject({ code: ErrorCode.NotFound });
    const down = await setup(() => ({ status: 503, body: new Uint8Array() }));
    const e2 = await down.proxy.keyMaterial(B, CAROL, request()).catch((x: unknown) => x as GatewayError);
    expect(e2).toMatchObject({ code: ErrorCode.PeerUnavailable, retryable: true });
  });
});
