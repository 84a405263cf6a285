import { Logger } from '@nestjs/common';
import { ErrorCode, ValidationError } from '../common/errors';
import type { UserUri } from '../common/ids';
import { credentialUser, HubExternalSender } from './credentials';
import { MemberClient, type MemberClientOptions } from './member-client';
import {
  AFTER_REMOVAL,
  ALICE,
  BOB,
  CATHY,
  FOLLOWER_DOMAIN,
  FakeProvider,
  HELLO_FROM_ALICE,
  HELLO_FROM_CATHY,
  HUB_DOMAIN,
  ROLE_ADMIN,
  ROLE_MEMBER,
  ROOM_URI,
  TEXT,
  asParticipant,
} from './mls.fixtures';
import { inspectMlsMessage, keyPackageFromBytes } from './mls-message';
import { InMemoryMlsStorage } from './mls-storage';
import { MlsErrorReason } from './mls.errors';
import { RoomGroup } from './room-group';

const NOT_A_USER_URI = 'mimi://hub.example/r/not-a-user' as UserUri;
const MESSAGE_COUNT = 8;

interface TwoMembers {
  hub: FakeProvider;
  follower: FakeProvider;
  room: RoomGroup;
  alice: MemberClient;
  cathy: MemberClient;
}

/** Alice (hub provider) and Cathy (follower provider) in the room, at epoch 1. */
async function twoMembers(followerOptions: Partial<MemberClientOptions> = {}): Promise<TwoMembers> {
  const hub = new FakeProvider(HUB_DOMAIN);
  const follower = new FakeProvider(FOLLOWER_DOMAIN, followerOptions);
  const alice = await hub.client(ALICE);
  const room = await RoomGroup.create(alice, {
    roomUri: ROOM_URI,
    hub: await HubExternalSender.generate(HUB_DOMAIN),
    participants: [asParticipant(ALICE, ROLE_ADMIN)],
  });
  const cathy = await follower.client(CATHY);
  const added = await room.addMembers(
    [(await cathy.createKeyPackage()).keyPackage],
    [asParticipant(CATHY, ROLE_MEMBER)],
  );
  await cathy.joinFromWelcome(added.welcome!, added.ratchetTree);
  return { hub, follower, room, alice, cathy };
}

/** A client-side restart: a new MemberClient instance on the same storage. */
async function restart(provider: FakeProvider, user: UserUri): Promise<MemberClient> {
  const reopened = await MemberClient.open(user, provider.options);
  if (reopened === undefined) throw new Error(`no stored client for ${user}`);
  provider.clients.set(user, reopened);
  return reopened;
}

function plaintextOf(result: Awaited<ReturnType<MemberClient['processMessage']>>): string {
  if (result.kind !== 'application') throw new Error(`expected an application message, got ${result.kind}`);
  return new TextDecoder().decode(result.plaintext);
}

beforeAll(() => Logger.overrideLogger(['error', 'warn']));

describe(MemberClient.name, () => {
  describe('create / open', () => {
    it('stores the identity; a reopened client has the same signature key', async () => {
      const storage = new InMemoryMlsStorage();
      const created = await MemberClient.create(ALICE, { storage });
      const reopened = await MemberClient.open(ALICE, { storage });
      expect(reopened?.user).toBe(ALICE);
      expect(Buffer.from(reopened!.signaturePublicKey)).toEqual(Buffer.from(created.signaturePublicKey));
      expect(Buffer.from(reopened!.exportIdentity())).toEqual(Buffer.from(created.exportIdentity()));
      expect(await MemberClient.open(BOB, { storage })).toBeUndefined();
    });

    it('refuses to create a second client for the same user', async () => {
      const storage = new InMemoryMlsStorage();
      await MemberClient.create(ALICE, { storage });
      await expect(MemberClient.create(ALICE, { storage })).rejects.toMatchObject({ code: ErrorCode.Conflict });
    });

    it('rejects a URI that is not a MIMI user URI', async () => {
      await expect(MemberClient.create(NOT_A_USER_URI, { storage: new InMemoryMlsStorage() })).rejects.toThrow(
        ValidationError,
      );
    });
  });

  describe('createKeyPackage / joinFromWelcome', () => {
    it('publishes a KeyPackage whose basic credential carries the user URI', async () => {
      const cathy = await new FakeProvider(FOLLOWER_DOMAIN).client(CATHY);
      const { keyPackage } = await cathy.createKeyPackage();
      const decoded = keyPackageFromBytes(keyPackage);
      expect(credentialUser(decoded.leafNode.credential)).toBe(CATHY);
      expect(Buffer.from(decoded.leafNode.signaturePublicKey)).toEqual(Buffer.from(cathy.signaturePublicKey));
    });

    it('uses each KeyPackage once: the same Welcome cannot be joined twice', async () => {
      const { room } = await twoMembers();
      const other = new FakeProvider(FOLLOWER_DOMAIN);
      const cathyElsewhere = await other.client(CATHY);
      const { welcome, ratchetTree } = await room.addMembers([(await cathyElsewhere.createKeyPackage()).keyPackage]);

      await cathyElsewhere.joinFromWelcome(welcome!, ratchetTree);
      await cathyElsewhere.forgetGroup(room.groupId);
      await expect(cathyElsewhere.joinFromWelcome(welcome!, ratchetTree)).rejects.toMatchObject({
        reason: MlsErrorReason.NoMatchingKeyPackage,
      });
    });

    it('refuses a Welcome addressed to other clients', async () => {
      const { room } = await twoMembers();
      const bob = await new FakeProvider(HUB_DOMAIN).client(BOB);
      const cathyOtherDevice = await new FakeProvider(FOLLOWER_DOMAIN).client(CATHY);
      const { welcome } = await room.addMembers([(await cathyOtherDevice.createKeyPackage()).keyPackage]);
      await expect(bob.joinFromWelcome(welcome!)).rejects.toMatchObject({
        reason: MlsErrorReason.NoMatchingKeyPackage,
      });
    });
  });

  describe('state across restarts', () => {
    it('a member reopened from its storage keeps decrypting and encrypting', async () => {
      const { follower, room, alice, cathy } = await twoMembers();
      expect(plaintextOf(await cathy.processMessage(await alice.encrypt(room.groupId, HELLO_FROM_ALICE)))).toBe(
        'hello from alice (hub)',
      );

      const restarted = await restart(follower, CATHY);
      expect(plaintextOf(await restarted.processMessage(await alice.encrypt(room.groupId, AFTER_REMOVAL)))).toBe(
        'sent after the removal',
      );
      expect(plaintextOf(await alice.processMessage(await restarted.encrypt(room.groupId, HELLO_FROM_CATHY)))).toBe(
        'hello from cathy (follower)',
      );
    });

    it('exportState / importState round-trips the full state into fresh storage', async () => {
      const { room, alice, cathy } = await twoMembers();
      const pendingKeyPackage = await cathy.createKeyPackage();
      const snapshot = await cathy.exportState();

      const fresh = new InMemoryMlsStorage();
      const imported = await MemberClient.importState(snapshot, { storage: fresh });

      expect(Buffer.from(imported.exportIdentity())).toEqual(Buffer.from(cathy.exportIdentity()));
      expect(Buffer.from(await imported.exportGroupState(room.groupId))).toEqual(
        Buffer.from(await cathy.exportGroupState(room.groupId)),
      );
      expect(Buffer.from(await imported.exportState())).toEqual(Buffer.from(snapshot));
      expect(plaintextOf(await imported.processMessage(await alice.encrypt(room.groupId, HELLO_FROM_ALICE)))).toBe(
        'hello from alice (hub)',
      );
      // The unused KeyPackage's private keys came along: a Welcome for it can still be joined.
      const second = await RoomGroup.create(await new FakeProvider(HUB_DOMAIN).client(BOB), {
        roomUri: `${ROOM_URI}-2` as typeof ROOM_URI,
        hub: await HubExternalSender.generate(HUB_DOMAIN),
        participants: [asParticipant(BOB, ROLE_ADMIN), asParticipant(CATHY, ROLE_MEMBER)],
      });
      const added = await second.addMembers([pendingKeyPackage.keyPackage]);
      expect((await imported.joinFromWelcome(added.welcome!, added.ratchetTree)).epoch).toBe(1n);
    });

    it('continues its sending ratchet after a restart instead of reusing a generation', async () => {
      const { hub, room, alice, cathy } = await twoMembers();
      const beforeRestart = await alice.encrypt(room.groupId, TEXT.encode('before restart'));
      const restarted = await restart(hub, ALICE);
      const afterRestart = await restarted.encrypt(room.groupId, TEXT.encode('after restart'));

      // A reused generation would make the second message undecryptable (its key is consumed).
      expect(plaintextOf(await cathy.processMessage(beforeRestart))).toBe('before restart');
      expect(plaintextOf(await cathy.processMessage(afterRestart))).toBe('after restart');
    });
  });

  describe('processMessage', () => {
    it('decrypts a message from the previous epoch when it arrives after the commit', async () => {
      const { room, alice, cathy } = await twoMembers();
      const lateMessage = await cathy.encrypt(room.groupId, HELLO_FROM_CATHY);
      const commit = await room.commitPendingProposals();
      await cathy.processMessage(commit.commit);

      expect(plaintextOf(await alice.processMessage(lateMessage))).toBe('hello from cathy (follower)');
    });

    it('rejects an application message older than the epochs it keeps keys for, with a clear error', async () => {
      const { room, alice, cathy } = await twoMembers({ pastEpochs: 1 });
      const staleMessage = await alice.encrypt(room.groupId, HELLO_FROM_ALICE);
      for (let i = 0; i < 2; i++) await cathy.processMessage((await room.commitPendingProposals()).commit);

      const failure = cathy.processMessage(staleMessage);
      await expect(failure).rejects.toMatchObject({
        reason: MlsErrorReason.EpochTooOld,
        code: ErrorCode.EpochTooOld,
        currentEpoch: 3n,
        messageEpoch: 1n,
      });
      await expect(failure).rejects.toThrow(/epoch 1 is older than the epochs .* keeps keys for \(current 3, 1 past\)/);
    });

    it('rejects a commit made for a past epoch (wrongEpoch)', async () => {
      const { room, alice, cathy } = await twoMembers();
      const stale = await cathy.stageCommit(room.groupId);
      await cathy.discardStagedCommit(room.groupId);
      await cathy.processMessage((await room.commitPendingProposals()).commit);

      await expect(alice.processMessage(stale.commit)).rejects.toMatchObject({
        reason: MlsErrorReason.WrongEpoch,
        code: ErrorCode.WrongEpoch,
        currentEpoch: 2n,
        messageEpoch: 1n,
      });
    });

    it('rejects a message from an epoch it has not reached (a commit was missed)', async () => {
      const { room, alice, cathy } = await twoMembers();
      await room.commitPendingProposals();
      const ahead = await alice.encrypt(room.groupId, HELLO_FROM_ALICE);

      await expect(cathy.processMessage(ahead)).rejects.toMatchObject({
        reason: MlsErrorReason.FutureEpoch,
        currentEpoch: 1n,
        messageEpoch: 2n,
      });
    });

    it('reports its own application message and merged commit coming back as echoes', async () => {
      const { room, alice } = await twoMembers();
      const own = await alice.encrypt(room.groupId, HELLO_FROM_ALICE);
      expect(await alice.processMessage(own)).toEqual({ kind: 'echo', groupId: room.groupId, epoch: 1n });

      const commit = await room.commitPendingProposals();
      expect(await alice.processMessage(commit.commit)).toMatchObject({ kind: 'echo', epoch: 1n });
      expect((await alice.group(room.groupId)).epoch).toBe(2n);
    });

    it('names the unknown group', async () => {
      const { room, alice } = await twoMembers();
      const outsider = await new FakeProvider(HUB_DOMAIN).client(BOB);
      await expect(outsider.processMessage(await alice.encrypt(room.groupId, HELLO_FROM_ALICE))).rejects.toMatchObject({
        reason: MlsErrorReason.UnknownGroup,
      });
    });

    it('refuses bytes that are not a group message', async () => {
      const cathy = await new FakeProvider(FOLLOWER_DOMAIN).client(CATHY);
      const { keyPackage } = await cathy.createKeyPackage();
      await expect(cathy.processMessage(keyPackage)).rejects.toMatchObject({ reason: MlsErrorReason.Malformed });
    });
  });

  describe('stageCommit', () => {
    it('leaves the epoch alone until merged, and discarding keeps the group usable', async () => {
      const { room, alice, cathy } = await twoMembers();
      const staged = await cathy.stageCommit(room.groupId);
      expect(staged.epoch).toBe(2n);
      expect(await cathy.group(room.groupId)).toMatchObject({ epoch: 1n, commitStaged: true });
      await expect(cathy.stageCommit(room.groupId)).rejects.toMatchObject({ reason: MlsErrorReason.CommitPending });

      await cathy.discardStagedCommit(room.groupId);
      expect(await cathy.group(room.groupId)).toMatchObject({ epoch: 1n, commitStaged: false });
      expect(plaintextOf(await alice.processMessage(await cathy.encrypt(room.groupId, HELLO_FROM_CATHY)))).toBe(
        'hello from cathy (follower)',
      );
      await expect(cathy.mergeStagedCommit(room.groupId)).rejects.toMatchObject({
        reason: MlsErrorReason.NoCommitPending,
      });
    });

    it('merges the staged commit when the hub fans it back out', async () => {
      const { room, alice, cathy } = await twoMembers();
      const staged = await cathy.stageCommit(room.groupId);

      expect(await alice.processMessage(staged.commit)).toMatchObject({ kind: 'commit', epoch: 2n, ownCommit: false });
      expect(await cathy.processMessage(staged.commit)).toMatchObject({ kind: 'commit', epoch: 2n, ownCommit: true });
      expect(plaintextOf(await alice.processMessage(await cathy.encrypt(room.groupId, HELLO_FROM_CATHY)))).toBe(
        'hello from cathy (follower)',
      );
    });

    it('drops the staged commit when another member wins the epoch', async () => {
      const { room, alice, cathy } = await twoMembers();
      await cathy.stageCommit(room.groupId);
      const winner = await room.commitPendingProposals();

      expect(await cathy.processMessage(winner.commit)).toMatchObject({
        kind: 'commit',
        epoch: 2n,
        discardedStagedCommit: true,
      });
      expect((await cathy.group(room.groupId)).commitStaged).toBe(false);
      expect(plaintextOf(await cathy.processMessage(await alice.encrypt(room.groupId, HELLO_FROM_ALICE)))).toBe(
        'hello from alice (hub)',
      );
    });

    it('refuses a participant-list change in the same commit as a Remove (ts-mls 1.6.4 UpdatePath bug)', async () => {
      const { room, alice } = await twoMembers();
      const cathyLeaf = (await room.summary()).members.find((m) => m.user === CATHY)!.leafIndex;
      await expect(
        alice.stageCommit(room.groupId, { remove: [cathyLeaf], participants: [asParticipant(ALICE, ROLE_ADMIN)] }),
      ).rejects.toMatchObject({ reason: MlsErrorReason.Invalid });
      expect((await alice.group(room.groupId)).commitStaged).toBe(false);
    });
  });

  describe('encrypt', () => {
    it('serialises concurrent calls on one group: every ciphertext decrypts, in any order', async () => {
      const { room, alice, cathy } = await twoMembers();
      const texts = Array.from({ length: MESSAGE_COUNT }, (_, i) => `message ${i}`);
      const ciphertexts = await Promise.all(texts.map((t) => alice.encrypt(room.groupId, TEXT.encode(t))));

      const received = [];
      for (const c of [...ciphertexts].reverse()) received.push(plaintextOf(await cathy.processMessage(c)));
      expect(received.sort()).toEqual([...texts].sort());
      const epochs = ciphertexts.map((c) => inspectMlsMessage(c).epoch);
      expect(new Set(epochs)).toEqual(new Set([1n]));
    });

    it('names the unknown group', async () => {
      const cathy = await new FakeProvider(FOLLOWER_DOMAIN).client(CATHY);
      await expect(cathy.encrypt(TEXT.encode('no such group'), HELLO_FROM_CATHY)).rejects.toMatchObject({
        reason: MlsErrorReason.UnknownGroup,
        code: ErrorCode.NotFound,
      });
    });
  });
});
