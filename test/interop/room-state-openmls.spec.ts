/**
 * The room state components (issue 10 item 1) read by an RFC 9420 stack nobody on this team wrote:
 * a gateway group (GroupStore, as the hub makes it when it links a room) carries room_metadata,
 * roles_list, base_room_policy, logging_policy and bot_policy in its first GroupContext; an
 * openmls client (extensions-draft build) joins it by Welcome, then processes the hub's
 * AppDataUpdate commits of changed components and ends with the same GroupContext bytes.
 */
import type { ProviderDomain, RoomUri, UserUri } from '../../src/common/ids';
import { decodeRoomMetadata, RoomStateComponentId } from '../../src/mimi/room-state';
import {
  APP_DATA_DICTIONARY_EXTENSION_TYPE,
  GroupStore,
  HubExternalSender,
  InMemoryMlsStorage,
  decodeAppDataDictionary,
  groupIdForRoom,
} from '../../src/mls';
import { contextBytes } from '../../src/mls/core/group/common';
import { ParticipantRole } from '../../src/ports';
import {
  metadataComponent,
  policyComponents,
  roomMetadataOf,
  roomStateComponents,
} from '../../src/rooms/room-state/room-components';
import { PEER_CAPS, describePeer, hex } from './core-openmls-harness';
import { OpenMlsPeer } from './openmls-peer';

const DOMAIN = 'a.example' as ProviderDomain;
const ROOM = 'mimi://a.example/r/openmls-state' as RoomUri;
const BOT = 'mimi://a.example/u/gateway-bot' as UserUri;
const BOB = 'bob';
const BOB_URI = 'mimi://openmls.example/u/bob' as UserUri;
const IDENTITY = { domain: DOMAIN, roomUri: ROOM, platform: 'matrix' };

describePeer('room state components read by openmls (extensions build)', 'extensions', () => {
  let peer: OpenMlsPeer;

  beforeAll(async () => {
    peer = await OpenMlsPeer.start({ variant: 'extensions' });
  });
  afterAll(async () => {
    await peer?.close();
  });

  it('joins a linked room by Welcome and follows AppDataUpdate commits of the room state', async () => {
    const store = new GroupStore(new InMemoryMlsStorage());
    await store.identities.getOrCreate(BOT);
    const hub = HubExternalSender.generate(DOMAIN);
    const groupId = groupIdForRoom(ROOM);
    const group = await store.createGroup({
      groupId,
      creator: BOT,
      hub: hub.externalSender,
      participants: [{ user: BOT, roleIndex: 6 }],
      components: roomStateComponents(IDENTITY, { name: 'Club', topic: 'Chess', joinRule: 'invite' }),
    });

    await peer.newClient(BOB, BOB_URI, { capabilities: PEER_CAPS });
    const kp = (await peer.keyPackage(BOB)).keyPackage;
    const add = await group.commit(BOT, {
      add: [kp],
      participants: [
        { user: BOT, roleIndex: 6 },
        { user: BOB_URI, roleIndex: 3 },
      ],
    });
    await peer.joinWelcome(BOB, add.welcome!, add.ratchetTree);
    const joined = await peer.state(BOB, groupId);
    expect(hex(joined.groupContext)).toBe(hex(contextBytes(group.coreState.context)));
    const dictionary = joined.extensions.find((e) => e.type === APP_DATA_DICTIONARY_EXTENSION_TYPE);
    expect(decodeAppDataDictionary(dictionary!.data).map((c) => c.componentId)).toEqual([
      0x0022,
      RoomStateComponentId.roomMetadata,
      RoomStateComponentId.rolesList,
      RoomStateComponentId.baseRoomPolicy,
      RoomStateComponentId.loggingPolicy,
      RoomStateComponentId.botPolicy,
    ]);

    // The hub's commits when the legacy room is renamed, and then opened with other permissions.
    const renamed = await group.commit(BOT, {
      appData: [metadataComponent(roomMetadataOf(IDENTITY, { name: 'Chess club', topic: 'Fridays' }))],
    });
    expect((await peer.process(BOB, renamed.commit)).kind).toBe('commit');
    const permissions = { minimumRole: { send: ParticipantRole.Member, kick: ParticipantRole.Admin } };
    const opened = await group.commit(BOT, { appData: policyComponents(permissions, 'public') });
    expect((await peer.process(BOB, opened.commit)).kind).toBe('commit');

    const after = await peer.state(BOB, groupId);
    expect(BigInt(after.epoch)).toBe(group.epoch);
    expect(hex(after.groupContext)).toBe(hex(contextBytes(group.coreState.context)));
    const metadata = decodeAppDataDictionary(
      after.extensions.find((e) => e.type === APP_DATA_DICTIONARY_EXTENSION_TYPE)!.data,
    ).find((c) => c.componentId === RoomStateComponentId.roomMetadata)!;
    expect(decodeRoomMetadata(metadata.data)).toMatchObject({
      name: 'Chess club',
      descriptions: [{ content: 'Fridays' }],
    });
  });
});
