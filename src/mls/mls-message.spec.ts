/** The hub's secret-free view of MLS messages (inspect, epoch checks, HubGroupView) on real messages of our own MLS. */
import { type ProviderDomain, roomUri, userUri } from '../common/ids';
import { GroupStore } from './gateway';
import { hubExternalSender } from './gateway/room-extensions';
import { cipherSuiteById } from './core/crypto';
import { InMemoryMlsStorage } from './mls-storage';
import {
  EpochVerdict,
  HubGroupView,
  checkEpoch,
  epochCheckError,
  externalSenderKeys,
  frameMlsMessage,
  groupIdForRoom,
  groupInfoFromBytes,
  inspectMlsMessage,
  keyPackageUser,
  roomUriForGroupId,
  unframeMlsMessage,
  welcomeFromBytes,
} from './mls-message';
import { MlsErrorReason, MlsGroupError } from './mls.errors';

const HUB = 'hub.example' as ProviderDomain;
const ROOM = roomUri(HUB, 'clubhouse');
const BOT = userUri(HUB, 'gateway-bot');
const ALICE = userUri(HUB, 'alice');
const CATHY = userUri('follower.example', 'cathy');
const TEXT = new TextEncoder();

async function room() {
  const hubKey = cipherSuiteById(1).signatureGenerateKeyPair();
  const hub = new GroupStore(new InMemoryMlsStorage());
  const follower = new GroupStore(new InMemoryMlsStorage());
  const group = await hub.createGroup({
    groupId: groupIdForRoom(ROOM),
    creator: BOT,
    hub: hubExternalSender(HUB, hubKey.publicKey),
    participants: [{ user: BOT, roleIndex: 6 }],
  });
  const kp = await follower.createKeyPackage(CATHY);
  const added = await group.commit(BOT, {
    addLocal: [ALICE],
    add: [kp.keyPackage],
    participants: [
      { user: BOT, roleIndex: 6 },
      { user: ALICE, roleIndex: 3 },
      { user: CATHY, roleIndex: 3 },
    ],
  });
  return { hubKey, hub, follower, group, kp, added };
}

describe('groupIdForRoom', () => {
  it('maps a room URI to its group URI and back', () => {
    const id = groupIdForRoom(ROOM);
    expect(new TextDecoder().decode(id)).toBe('mimi://hub.example/g/clubhouse');
    expect(roomUriForGroupId(id)).toBe(ROOM);
    expect(roomUriForGroupId(Uint8Array.of(0xff))).toBeUndefined();
  });
});

describe('inspectMlsMessage', () => {
  it('reads group, epoch and content type of a PrivateMessage, whose sender stays hidden', async () => {
    const { group } = await room();
    const header = inspectMlsMessage(await group.encrypt(ALICE, TEXT.encode('hi')));
    expect(header).toMatchObject({ wireFormat: 'mls_private_message', epoch: 1n, contentType: 'application' });
    expect(header.sender).toBeUndefined();
    expect(Buffer.from(header.groupId!)).toEqual(Buffer.from(groupIdForRoom(ROOM)));
  });

  it('reads the sender leaf index of a PublicMessage commit', async () => {
    const { added } = await room();
    expect(inspectMlsMessage(added.commit)).toMatchObject({
      wireFormat: 'mls_public_message',
      epoch: 0n,
      contentType: 'commit',
      sender: { type: 'member', leafIndex: 0 },
    });
  });

  it('lists the KeyPackageRefs of a Welcome and the epoch of a framed GroupInfo; frames and unframes bare structs', async () => {
    const { added, kp, group } = await room();
    const welcome = inspectMlsMessage(added.welcome!);
    expect(welcome.keyPackageRefs!.map((r) => Buffer.from(r))).toContainEqual(Buffer.from(kp.ref));
    const bare = unframeMlsMessage(added.welcome!);
    expect(welcomeFromBytes(bare).secrets.length).toBe(welcome.keyPackageRefs!.length);
    expect(frameMlsMessage('mls_welcome', bare)).toEqual(added.welcome);
    const info = await group.groupInfo();
    expect(inspectMlsMessage(frameMlsMessage('mls_group_info', info.groupInfo))).toMatchObject({
      wireFormat: 'mls_group_info',
      epoch: 1n,
    });
    expect(groupInfoFromBytes(info.groupInfo).groupContext.epoch).toBe(1n);
    expect(keyPackageUser(kp.keyPackage)).toBe(CATHY);
    expect(keyPackageUser(kp.mlsMessage)).toBe(CATHY);
  });

  it('names the external senders of a GroupInfo (RFC 9420 vector)', async () => {
    const { group, hubKey } = await room();
    const info = await group.groupInfo();
    expect(externalSenderKeys(info.groupInfo).map((k) => Buffer.from(k))).toEqual([Buffer.from(hubKey.publicKey)]);
    expect(externalSenderKeys(info.groupInfoMessage)).toHaveLength(1);
  });

  it('refuses truncated input and trailing bytes', async () => {
    const { added } = await room();
    const malformed = (f: () => unknown): void => {
      try {
        f();
        throw new Error('no error');
      } catch (e) {
        expect(e).toBeInstanceOf(MlsGroupError);
        expect((e as MlsGroupError).reason).toBe(MlsErrorReason.Malformed);
      }
    };
    malformed(() => inspectMlsMessage(added.commit.subarray(0, added.commit.length - 1)));
    malformed(() => inspectMlsMessage(Uint8Array.of(...added.commit, 0)));
    malformed(() => groupInfoFromBytes(Uint8Array.of(...added.groupInfo, 0)));
  });
});

describe('checkEpoch', () => {
  it('classifies messages as protocol-06 §5.3/§5.4 require', async () => {
    const { group, added } = await room();
    const groupId = groupIdForRoom(ROOM);
    const app = inspectMlsMessage(await group.encrypt(ALICE, TEXT.encode('x')));
    expect(checkEpoch(app, { groupId, epoch: 1n }).verdict).toBe(EpochVerdict.Ok);
    expect(checkEpoch(app, { groupId, epoch: 2n }).verdict).toBe(EpochVerdict.EpochTooOld);
    expect(checkEpoch(app, { groupId, epoch: 0n }).verdict).toBe(EpochVerdict.NotAllowed);
    expect(checkEpoch(app, { groupId: TEXT.encode('other'), epoch: 1n }).verdict).toBe(EpochVerdict.NotAllowed);
    const commit = inspectMlsMessage(added.commit);
    expect(checkEpoch(commit, { groupId, epoch: 0n }).verdict).toBe(EpochVerdict.Ok);
    expect(checkEpoch(commit, { groupId, epoch: 1n })).toMatchObject({
      verdict: EpochVerdict.WrongEpoch,
      currentEpoch: 1n,
    });
    const welcome = inspectMlsMessage(added.welcome!);
    expect(checkEpoch(welcome, { groupId, epoch: 1n }).verdict).toBe(EpochVerdict.NotAllowed);
  });

  it('turns a failed check into an error with the hub epoch', async () => {
    const { added } = await room();
    const check = checkEpoch(inspectMlsMessage(added.commit), { groupId: groupIdForRoom(ROOM), epoch: 3n });
    const error = epochCheckError(check, 0n)!;
    expect(error).toMatchObject({ reason: MlsErrorReason.WrongEpoch, currentEpoch: 3n, messageEpoch: 0n });
    expect(epochCheckError({ ...check, verdict: EpochVerdict.Ok })).toBeUndefined();
  });
});

describe(HubGroupView.name, () => {
  it('tracks the epoch from accepted commits without any group secret', async () => {
    const { added, group } = await room();
    const view = new HubGroupView(groupIdForRoom(ROOM), 0n);
    expect(view.check(added.commit).check.verdict).toBe(EpochVerdict.Ok);
    view.accept(inspectMlsMessage(added.commit));
    expect(view.epoch).toBe(1n);
    const app = await group.encrypt(ALICE, TEXT.encode('y'));
    view.accept(inspectMlsMessage(app));
    expect(view.epoch).toBe(1n);
    expect(() => view.accept(inspectMlsMessage(added.commit))).toThrow(MlsGroupError);
  });
});
