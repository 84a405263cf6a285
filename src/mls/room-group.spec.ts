import { Logger } from '@nestjs/common';
import {
  type ClientState,
  decodeExternalSender,
  decodeGroupState,
  decodeRequiredCapabilities,
  defaultAuthenticationService,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  emptyPskIndex,
  processPrivateMessage,
} from 'ts-mls';
import { ValidationError } from '../common/errors';
import { userUri } from '../common/ids';
import { APP_DATA_DICTIONARY_EXTENSION_TYPE, participantListFromExtensions } from './app-data';
import { HubExternalSender, credentialIdentity } from './credentials';
import { mlsCiphersuite } from './crypto';
import type { MemberClient } from './member-client';
import {
  AFTER_REMOVAL,
  ALICE,
  BOB,
  CATHY,
  DAVE,
  FOLLOWER_DOMAIN,
  FakeProvider,
  HELLO_FROM_ALICE,
  HELLO_FROM_CATHY,
  HUB_DOMAIN,
  ROLE_ADMIN,
  ROLE_BANNED,
  ROLE_MEMBER,
  ROOM_GROUP_URI,
  ROOM_URI,
  asParticipant,
  fanOut,
} from './mls.fixtures';
import {
  decodeMlsMessageBytes,
  externalSenderKeys,
  frameMlsMessage,
  inspectMlsMessage,
  keyPackageRef,
} from './mls-message';
import { MlsErrorReason } from './mls.errors';
import { RoomGroup, groupIdForRoom, roomUriForGroupId } from './room-group';
import { TlsReader } from '../codec/tls-codec';

beforeAll(() => Logger.overrideLogger(['error', 'warn']));

interface Room {
  hubProvider: FakeProvider;
  followerProvider: FakeProvider;
  hubSender: HubExternalSender;
  room: RoomGroup;
  alice: MemberClient;
  bob: MemberClient;
  cathy: MemberClient;
  dave: MemberClient;
}

/** Alice (hub provider) creates the room; Bob (hub) and Cathy + Dave (follower) join by Welcome. */
async function roomWithFourMembers(): Promise<Room> {
  const hubProvider = new FakeProvider(HUB_DOMAIN);
  const followerProvider = new FakeProvider(FOLLOWER_DOMAIN);
  const hubSender = await HubExternalSender.generate(HUB_DOMAIN);
  const alice = await hubProvider.client(ALICE);
  const room = await RoomGroup.create(alice, {
    roomUri: ROOM_URI,
    hub: hubSender,
    participants: [asParticipant(ALICE, ROLE_ADMIN)],
  });
  const bob = await hubProvider.client(BOB);
  const cathy = await followerProvider.client(CATHY);
  const dave = await followerProvider.client(DAVE);
  const keyPackages = [await bob.createKeyPackage(), await cathy.createKeyPackage(), await dave.createKeyPackage()];
  const added = await room.addMembers(
    keyPackages.map((k) => k.keyPackage),
    [asParticipant(BOB, ROLE_MEMBER), asParticipant(CATHY, ROLE_MEMBER), asParticipant(DAVE, ROLE_MEMBER)],
  );
  for (const joiner of [bob, cathy, dave]) await joiner.joinFromWelcome(added.welcome!, added.ratchetTree);
  return { hubProvider, followerProvider, hubSender, room, alice, bob, cathy, dave };
}

describe(RoomGroup.name, () => {
  describe('groupIdForRoom', () => {
    it('derives the MLS group ID from the room URI and back (protocol-06 §3)', () => {
      const groupId = groupIdForRoom(ROOM_URI);
      expect(new TextDecoder().decode(groupId)).toBe(ROOM_GROUP_URI);
      expect(roomUriForGroupId(groupId)).toBe(ROOM_URI);
    });

    it('rejects URIs that are not rooms', () => {
      expect(() => groupIdForRoom(ALICE as unknown as typeof ROOM_URI)).toThrow(ValidationError);
      expect(roomUriForGroupId(new TextEncoder().encode(ALICE))).toBeUndefined();
    });
  });

  describe('create', () => {
    it('puts the hub in external_senders, requires app_data_dictionary and stores the participant list', async () => {
      const hubProvider = new FakeProvider(HUB_DOMAIN);
      const hubSender = await HubExternalSender.generate(HUB_DOMAIN);
      const alice = await hubProvider.client(ALICE);
      const room = await RoomGroup.create(alice, {
        roomUri: ROOM_URI,
        hub: hubSender,
        participants: [asParticipant(ALICE, ROLE_ADMIN)],
      });

      const summary = await room.summary();
      expect(summary.epoch).toBe(0n);
      expect(summary.members.map((m) => m.user)).toEqual([ALICE]);
      expect(summary.participants).toEqual([asParticipant(ALICE, ROLE_ADMIN)]);

      const extensions = await alice.groupContextExtensions(room.groupId);
      const external = extensions.find((e) => e.extensionType === 'external_senders');
      const [sender] = decodeExternalSender(external!.extensionData, 0)!;
      expect(Buffer.from(sender.signaturePublicKey)).toEqual(Buffer.from(hubSender.signaturePublicKey));
      expect(credentialIdentity(sender.credential)).toBe(`mimi://${HUB_DOMAIN}`);
      const required = extensions.find((e) => e.extensionType === 'required_capabilities');
      expect(decodeRequiredCapabilities(required!.extensionData, 0)![0].extensionTypes).toEqual([
        APP_DATA_DICTIONARY_EXTENSION_TYPE,
      ]);
    });

    it('refuses a participant list without the creator', async () => {
      const hubProvider = new FakeProvider(HUB_DOMAIN);
      const alice = await hubProvider.client(ALICE);
      await expect(
        RoomGroup.create(alice, {
          roomUri: ROOM_URI,
          hub: await HubExternalSender.generate(HUB_DOMAIN),
          participants: [asParticipant(BOB, ROLE_ADMIN)],
        }),
      ).rejects.toThrow(ValidationError);
    });
  });

  describe('addMembers', () => {
    it('adds clients of two providers by Welcome; messages both ways decrypt to the same bytes', async () => {
      const { alice, bob, cathy, dave, room } = await roomWithFourMembers();

      for (const member of [alice, bob, cathy, dave]) {
        const group = await member.group(room.groupId);
        expect(group.epoch).toBe(1n);
        expect(group.members.map((m) => m.user)).toEqual([ALICE, BOB, CATHY, DAVE]);
      }

      const fromHub = await alice.encrypt(room.groupId, HELLO_FROM_ALICE);
      for (const received of await fanOut(fromHub, [bob, cathy, dave])) {
        expect(received.kind).toBe('application');
        if (received.kind !== 'application') continue;
        expect(Buffer.from(received.plaintext)).toEqual(Buffer.from(HELLO_FROM_ALICE));
        expect(received.sender.user).toBe(ALICE);
      }

      const fromFollower = await cathy.encrypt(room.groupId, HELLO_FROM_CATHY);
      for (const received of await fanOut(fromFollower, [alice, bob, dave])) {
        expect(received.kind).toBe('application');
        if (received.kind !== 'application') continue;
        expect(Buffer.from(received.plaintext)).toEqual(Buffer.from(HELLO_FROM_CATHY));
        expect(received.sender.user).toBe(CATHY);
      }
    });

    it('names each joiner KeyPackageRef in the Welcome, for routing it to the right provider', async () => {
      const hubProvider = new FakeProvider(HUB_DOMAIN);
      const followerProvider = new FakeProvider(FOLLOWER_DOMAIN);
      const alice = await hubProvider.client(ALICE);
      const room = await RoomGroup.create(alice, {
        roomUri: ROOM_URI,
        hub: await HubExternalSender.generate(HUB_DOMAIN),
        participants: [asParticipant(ALICE, ROLE_ADMIN)],
      });
      const cathy = await followerProvider.client(CATHY);
      const kp = await cathy.createKeyPackage();

      const added = await room.addMembers([kp.keyPackage], [asParticipant(CATHY, ROLE_MEMBER)]);

      const cs = await mlsCiphersuite();
      expect(added.joiners.map((r) => Buffer.from(r))).toEqual([Buffer.from(kp.ref)]);
      expect(Buffer.from(await keyPackageRef(kp.keyPackage, cs))).toEqual(Buffer.from(kp.ref));
      const welcome = inspectMlsMessage(frameMlsMessage('mls_welcome', added.welcome!));
      expect(welcome.keyPackageRefs?.map((r) => Buffer.from(r))).toEqual([Buffer.from(kp.ref)]);
      expect(inspectMlsMessage(added.commit).contentType).toBe('commit');
    });

    it('refuses a client whose user is not a participant', async () => {
      const hubProvider = new FakeProvider(HUB_DOMAIN);
      const alice = await hubProvider.client(ALICE);
      const room = await RoomGroup.create(alice, {
        roomUri: ROOM_URI,
        hub: await HubExternalSender.generate(HUB_DOMAIN),
        participants: [asParticipant(ALICE, ROLE_ADMIN)],
      });
      const bob = await hubProvider.client(BOB);

      await expect(room.addMembers([(await bob.createKeyPackage()).keyPackage])).rejects.toThrow(ValidationError);
      expect((await room.summary()).epoch).toBe(0n);
    });
  });

  describe('removeUsers', () => {
    it('removes the user from the group and the participant list; the removed client cannot decrypt later messages', async () => {
      const { alice, bob, cathy, dave, room } = await roomWithFourMembers();
      const cathyBeforeRemoval = await cathy.exportGroupState(room.groupId);

      const [removal, listUpdate, ...more] = await room.removeUsers([CATHY]);
      expect(more).toEqual([]);
      const results = await fanOut(removal!.commit, [bob, cathy, dave]);
      expect(results.map((r) => r.kind === 'commit' && r.removedSelf)).toEqual([false, true, false]);
      await fanOut(listUpdate!.commit, [bob, dave]);
      expect((await room.participants()).map((p) => p.user)).toEqual([ALICE, BOB, DAVE]);
      expect((await dave.group(room.groupId)).participants.map((p) => p.user)).toEqual([ALICE, BOB, DAVE]);

      const later = await alice.encrypt(room.groupId, AFTER_REMOVAL);
      const [toBob, toDave] = await fanOut(later, [bob, dave]);
      expect(toBob?.kind === 'application' && Buffer.from(toBob.plaintext).equals(Buffer.from(AFTER_REMOVAL))).toBe(
        true,
      );
      expect(toDave?.kind).toBe('application');

      await expect(cathy.processMessage(later)).rejects.toMatchObject({
        reason: MlsErrorReason.RemovedFromGroup,
      });
      await expect(cathy.encrypt(room.groupId, HELLO_FROM_CATHY)).rejects.toMatchObject({
        reason: MlsErrorReason.RemovedFromGroup,
      });

      // Not just our guard: ts-mls itself, given every key Cathy ever had, cannot open the message.
      const cs = await mlsCiphersuite();
      const message = decodeMlsMessageBytes(later);
      if (message.wireformat !== 'mls_private_message') throw new Error('expected a PrivateMessage');
      for (const record of [cathyBeforeRemoval, await cathy.exportGroupState(room.groupId)]) {
        await expect(
          processPrivateMessage(tsMlsStateFromRecord(record), message.privateMessage, emptyPskIndex, cs),
        ).rejects.toThrow();
      }
    });

    it('refuses to let the committer remove itself', async () => {
      const { room } = await roomWithFourMembers();
      await expect(room.removeUsers([ALICE])).rejects.toThrow(ValidationError);
    });

    it('reports users that are not in the room', async () => {
      const hubProvider = new FakeProvider(HUB_DOMAIN);
      const alice = await hubProvider.client(ALICE);
      const room = await RoomGroup.create(alice, {
        roomUri: ROOM_URI,
        hub: await HubExternalSender.generate(HUB_DOMAIN),
        participants: [asParticipant(ALICE, ROLE_ADMIN)],
      });
      await expect(room.removeUsers([DAVE])).rejects.toMatchObject({ reason: MlsErrorReason.NotMember });
    });
  });

  describe('external proposals by the hub', () => {
    it('a Remove proposed by the hub as external sender is committed by a member and removes the client', async () => {
      const { alice, bob, cathy, dave, room, hubSender } = await roomWithFourMembers();
      const daveLeaf = (await room.summary()).members.find((m) => m.user === DAVE)!.leafIndex;
      const { groupInfo } = await room.groupInfo();

      const proposal = await hubSender.proposeRemove(groupInfo, daveLeaf);
      expect(inspectMlsMessage(proposal).sender).toEqual({ type: 'external', senderIndex: 0 });
      for (const received of await fanOut(proposal, [alice, bob, cathy, dave])) {
        expect(received).toMatchObject({ kind: 'proposal', proposalType: 'remove', accepted: true });
      }
      // RFC 9420: no application data while a proposal waits for its commit.
      await expect(bob.encrypt(room.groupId, HELLO_FROM_ALICE)).rejects.toMatchObject({
        reason: MlsErrorReason.PendingProposals,
      });

      const commit = await room.commitPendingProposals();
      const results = await fanOut(commit.commit, [bob, cathy, dave]);
      expect(results.map((r) => r.kind === 'commit' && r.removedSelf)).toEqual([false, false, true]);
      expect((await bob.group(room.groupId)).members.map((m) => m.user)).toEqual([ALICE, BOB, CATHY]);
    });

    it('a participant-list change proposed by the hub becomes the group state once committed', async () => {
      const { alice, bob, cathy, dave, room, hubSender } = await roomWithFourMembers();
      const { groupInfo } = await room.groupInfo();
      const banned = [
        asParticipant(ALICE, ROLE_ADMIN),
        asParticipant(BOB, ROLE_MEMBER),
        asParticipant(CATHY, ROLE_MEMBER),
        asParticipant(DAVE, ROLE_BANNED),
      ];

      await fanOut(await hubSender.proposeParticipantList(groupInfo, banned), [alice, bob, cathy, dave]);
      const commit = await room.commitPendingProposals();
      await fanOut(commit.commit, [bob, cathy, dave]);

      for (const member of [alice, bob, cathy, dave]) {
        expect((await member.group(room.groupId)).participants).toEqual(banned);
      }
    });
  });

  describe('setRoles', () => {
    it('commits the changed roles, which every member reads back from its GroupContext', async () => {
      const { alice, bob, cathy, dave, room } = await roomWithFourMembers();

      const commit = await room.setRoles([asParticipant(CATHY, ROLE_ADMIN)]);
      await fanOut(commit.commit, [bob, cathy, dave]);

      const expected = [
        asParticipant(ALICE, ROLE_ADMIN),
        asParticipant(BOB, ROLE_MEMBER),
        asParticipant(CATHY, ROLE_ADMIN),
        asParticipant(DAVE, ROLE_MEMBER),
      ];
      for (const member of [alice, bob, cathy, dave]) {
        expect(participantListFromExtensions(await member.groupContextExtensions(room.groupId))).toEqual(expected);
      }
    });

    it('refuses roles for non-participants', async () => {
      const hubProvider = new FakeProvider(HUB_DOMAIN);
      const alice = await hubProvider.client(ALICE);
      const room = await RoomGroup.create(alice, {
        roomUri: ROOM_URI,
        hub: await HubExternalSender.generate(HUB_DOMAIN),
        participants: [asParticipant(ALICE, ROLE_ADMIN)],
      });
      await expect(room.setRoles([asParticipant(BOB, ROLE_ADMIN)])).rejects.toMatchObject({
        reason: MlsErrorReason.NotMember,
      });
    });
  });

  describe('isActive', () => {
    it('is true for a member, false once it is removed and for a group it never had', async () => {
      const { cathy, dave, room, followerProvider } = await roomWithFourMembers();
      const stranger = await followerProvider.client(userUri(FOLLOWER_DOMAIN, 'erin'));
      expect(await cathy.isActive(room.groupId)).toBe(true);
      expect(await stranger.isActive(room.groupId)).toBe(false);

      const [removal] = await room.removeUsers([CATHY]);
      await fanOut(removal!.commit, [cathy, dave]);

      expect(await cathy.isActive(room.groupId)).toBe(false);
      expect(await cathy.hasGroup(room.groupId)).toBe(true);
      expect(await dave.isActive(room.groupId)).toBe(true);
    });
  });

  describe('groupInfo', () => {
    it('names the hub among the external senders a joiner can check a /groupInfo signer against', async () => {
      const { room, hubSender } = await roomWithFourMembers();
      const bundle = await room.groupInfo();
      const other = await HubExternalSender.generate(FOLLOWER_DOMAIN);

      const keys = externalSenderKeys(bundle.groupInfo).map((k) => Buffer.from(k).toString('hex'));

      expect(keys).toEqual([Buffer.from(hubSender.signaturePublicKey).toString('hex')]);
      expect(keys).not.toContain(Buffer.from(other.signaturePublicKey).toString('hex'));
      expect(() => externalSenderKeys(bundle.groupInfo.subarray(0, 40))).toThrow(
        expect.objectContaining({ reason: MlsErrorReason.Malformed }),
      );
    });

    it('lets a new client of an existing participant join by external commit (protocol-06 §3 new device)', async () => {
      const { alice, bob, cathy, dave, room, followerProvider } = await roomWithFourMembers();
      const bundle = await room.groupInfo();
      const cathysSecondDevice = new FakeProvider(FOLLOWER_DOMAIN);
      const cathy2 = await cathysSecondDevice.client(CATHY);

      const joined = await cathy2.joinExternal(bundle.groupInfo, bundle.ratchetTree);
      const header = inspectMlsMessage(joined.commit);
      expect(header).toMatchObject({
        contentType: 'commit',
        epoch: bundle.epoch,
        sender: { type: 'new_member_commit' },
      });
      await fanOut(joined.commit, [alice, bob, cathy, dave]);

      const message = await cathy2.encrypt(room.groupId, HELLO_FROM_CATHY);
      const [atAlice] = await fanOut(message, [alice]);
      expect(atAlice).toMatchObject({ kind: 'application', sender: { user: CATHY } });
      expect((await alice.group(room.groupId)).members.filter((m) => m.user === CATHY)).toHaveLength(2);
      expect(followerProvider.clients.get(CATHY)).toBe(cathy);
    });
  });
});

/** Unwrap a `MemberClient.exportGroupState` record into the raw ts-mls ClientState. */
function tsMlsStateFromRecord(record: Uint8Array): ClientState {
  const r = new TlsReader(record, 'record');
  r.uint8();
  const inner = r.opaque();
  const [state] = decodeGroupState(inner, 0)!;
  return {
    ...state,
    clientConfig: {
      keyRetentionConfig: defaultKeyRetentionConfig,
      lifetimeConfig: defaultLifetimeConfig,
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService: defaultAuthenticationService,
    },
  };
}
