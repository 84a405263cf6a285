/**
 * Issue 10 item 4 between two in-process gateways (the three-gateway run is the e2e
 * test/e2e/three-providers.e2e-spec.ts):
 *
 * - A as the TARGET provider of a `/keyMaterial` request a hub passed on (protocol-06 §5.2: "MUST
 *   be sent via the hub"): signed by a follower C of a room B hubs, sent by B → served; the same
 *   request sent by B for a room B does not hub → noConsent; a request whose requiredCapabilities
 *   A's clients lack → noCompatibleMaterial, with the client as nothingCompatible;
 * - A as the HUB of a follower's commit adding a third provider's user whose KeyPackage did not come
 *   through A: refused (`notAllowed`, with the reason), nothing changes;
 * - B as a FOLLOWER whose last client the hub removes (its user kicked on A): the mirror room on B
 *   shows the user removed too (before, B rendered nothing once its group was gone).
 */
import { Platform, type ProviderDomain, type RoomUri, type UserUri } from '../../src/common/ids';
import {
  asRequiredCapabilities,
  decodeAll,
  encodeValue,
  keyMaterialRequestCodec,
  keyMaterialRequestTbsCodec,
  keyMaterialResponseCodec,
} from '../../src/mimi/wire';
import { GroupStore, HubExternalSender, InMemoryMlsStorage } from '../../src/mls';
import { RoomRepository } from '../../src/persistence/repositories/room.repository';
import { requiredCapabilitiesCodec } from '../../src/mls/core/structs/extensions';
import { type InboundEvent, type LegacyUserRef, ParticipantRole } from '../../src/ports';
import { FollowerService, MlsGroups, type RoomInfo, legacyUserUri } from '../../src/rooms';
import { hubKeyMaterialRequest } from '../../src/rooms/wire-support';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import { DOMAIN_A, DOMAIN_B, DOMAIN_C } from '../kits/mimi/transport-fixtures';
import { GatewayPair, admin, eventually, found, memoryRoom, mimiPost } from './gateway-pair';

const ALICE: LegacyUserRef = { platform: Platform.Memory, userId: 'alice' };
const BOB: LegacyUserRef = { platform: Platform.Memory, userId: 'bob' };
const ALICE_URI = legacyUserUri(DOMAIN_A, 'memory', 'alice') as UserUri;
const BOB_URI = legacyUserUri(DOMAIN_B, 'memory', 'bob') as UserUri;
const CAROL_URI = `mimi://${DOMAIN_C}/u/carol`;
const path = (user: string): string => `/keyMaterial/${encodeURIComponent(user)}`;

describe('a third provider: /keyMaterial passed on by a hub, and a follower whose last client is removed', () => {
  let pair: GatewayPair;
  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite');
  }, 60_000);
  afterAll(async () => pair?.stop());

  const asB = () => ({ domain: DOMAIN_B, identity: pair.pki.b, ca: pair.pki.ca });
  const senderC = HubExternalSender.generate(DOMAIN_C as ProviderDomain);
  /** carol of C asks for alice's key material for a room `hub` hubs (signed by C). */
  const requestOfC = (hub: string): Uint8Array =>
    encodeValue(
      hubKeyMaterialRequest(senderC, {
        requestingUser: CAROL_URI,
        targetUser: ALICE_URI,
        roomId: `mimi://${hub}/r/lounge`,
      }),
      keyMaterialRequestCodec,
    );

  it('serves a request of a follower of the calling hub’s room, and refuses one for a room the caller does not hub', async () => {
    const passedOn = await mimiPost(pair.a, asB(), path(ALICE_URI), requestOfC(DOMAIN_B));
    expect(passedOn.status).toBe(200);
    const served = decodeAll(passedOn.body, keyMaterialResponseCodec);
    expect(served.userStatus).toBe('success');
    expect(served.clients.map((c) => c.clientStatus)).toEqual(['success']);

    const notItsRoom = await mimiPost(pair.a, asB(), path(ALICE_URI), requestOfC('d.example'));
    expect(notItsRoom.status).toBe(200);
    expect(decodeAll(notItsRoom.body, keyMaterialResponseCodec)).toMatchObject({
      userStatus: 'noConsent',
      clients: [],
    });
  });

  it('answers noCompatibleMaterial when its clients lack the requiredCapabilities', async () => {
    // A request whose signature covers requiredCapabilities naming an extension nobody supports.
    const unsupported = encodeValue(
      { extensionTypes: [0xff42], proposalTypes: [], credentialTypes: [] },
      requiredCapabilitiesCodec,
    );
    const tbs = {
      ...hubKeyMaterialRequest(senderC, { requestingUser: CAROL_URI, targetUser: ALICE_URI, roomId: '' }),
      requiredCapabilities: asRequiredCapabilities(unsupported),
    };
    const signature = senderC.signWithLabel('KeyMaterialRequestTBS', encodeValue(tbs, keyMaterialRequestTbsCodec));
    const asC = { domain: DOMAIN_C, identity: pair.pki.cByCa, ca: pair.pki.ca };
    const res = await mimiPost(
      pair.a,
      asC,
      path(ALICE_URI),
      encodeValue({ ...tbs, keyMaterialRequestSignature: signature }, keyMaterialRequestCodec),
    );
    expect(res.status).toBe(200);
    expect(decodeAll(res.body, keyMaterialResponseCodec)).toEqual({
      protocol: 'mls10',
      userStatus: 'noCompatibleMaterial',
      userUri: ALICE_URI,
      clients: [{ clientStatus: 'nothingCompatible', clientUri: ALICE_URI }],
    });
  });

  let roomUri: string;
  const clubEvent = (user: { userUri: UserUri }, membership: 'invite' | 'kick'): InboundEvent => ({
    kind: 'membership',
    room: memoryRoom('!club:a.example'),
    platformEventId: `$${membership}-${Date.now()}`,
    user,
    membership,
    by: ALICE,
    timestamp: Date.now(),
  });
  const roomOnB = async (): Promise<RoomInfo | undefined> =>
    (await admin<RoomInfo[]>(pair.b, 'GET', '/provisioning/rooms')).body.find((r) => r.roomUri === roomUri);
  const roomOnA = async (): Promise<RoomInfo | undefined> =>
    (await admin<RoomInfo[]>(pair.a, 'GET', '/provisioning/rooms')).body.find((r) => r.roomUri === roomUri);

  it('refuses a follower’s Add of a third provider’s user whose key material did not come through the hub', async () => {
    const club = pair.a.platform.createRoom('!club:a.example', 'Club');
    club.members.set(ALICE.userId, { user: ALICE, role: ParticipantRole.Owner });
    const linked = await admin<{ roomUri: string }>(pair.a, 'POST', '/provisioning/rooms', {
      platform: 'memory',
      roomId: '!club:a.example',
    });
    roomUri = linked.body.roomUri;
    await pair.a.platform.emitEvent(clubEvent({ userUri: BOB_URI }, 'invite'));
    await found(async () => ((await roomOnB())?.localMembers.includes(BOB_URI) ? true : undefined), 'bob on B');
    const epochBefore = (await roomOnA())!.epoch;

    // bob's client on B adds carol of C with a KeyPackage B got somewhere else than from the hub.
    const carolKeyPackage = (await new GroupStore(new InMemoryMlsStorage()).createKeyPackage(CAROL_URI as UserUri))
      .keyPackage;
    const follower = pair.b.running.app.get(FollowerService);
    const record = (await pair.b.running.app.get(RoomRepository).findByUri(undefined, roomUri as RoomUri))!;
    const group = (await pair.b.running.app.get(MlsGroups).group(roomUri as RoomUri))!;
    const response = await follower.requestChange(
      record,
      group,
      BOB_URI,
      (list) => [...list, { user: CAROL_URI as UserUri, roleIndex: 3 }],
      { add: [carolKeyPackage] },
    );
    expect(response).toEqual({
      responseCode: 'notAllowed',
      errorDescription: `b.example may not add ${CAROL_URI}, a user of another provider whose key material it did not fetch through the hub`,
    });
    // Nothing changed: no commit at the hub, no carol anywhere, B dropped its staged commit.
    expect((await roomOnA())!.epoch).toBe(epochBefore);
    expect((await roomOnA())!.participants.map((p) => p.userUri)).not.toContain(CAROL_URI);
    expect((await roomOnB())!.participants.map((p) => p.userUri)).not.toContain(CAROL_URI);
    expect(group.summary().commitStaged).toBe(false);
  });

  it('shows our user removed in the mirror room when the hub removes our last client', async () => {
    const mirror = pair.b.platform.rooms.get(`${MIRROR_PREFIX}${roomUri}`)!;
    // bob is in B's mirror room (he accepted the invitation there).
    mirror.members.set(BOB.userId, { user: BOB, role: ParticipantRole.Member });

    await pair.a.platform.emitEvent(clubEvent({ userUri: BOB_URI }, 'kick'));
    await eventually(async () => expect((await roomOnB())?.localMembers ?? []).not.toContain(BOB_URI));
    // B no longer holds the group, and bob is out of the mirror room too.
    await eventually(() => expect(mirror.members.has(BOB.userId)).toBe(false));
  });
});
