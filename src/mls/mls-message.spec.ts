import { Logger } from '@nestjs/common';
import { ErrorCode } from '../common/errors';
import { HubExternalSender } from './credentials';
import {
  ALICE,
  CATHY,
  FOLLOWER_DOMAIN,
  FakeProvider,
  HELLO_FROM_ALICE,
  HUB_DOMAIN,
  ROLE_ADMIN,
  ROLE_MEMBER,
  ROOM_URI,
  asParticipant,
} from './mls.fixtures';
import {
  EpochVerdict,
  HubGroupView,
  type MlsMessageHeader,
  checkEpoch,
  decodeMlsMessageBytes,
  epochCheckError,
  frameMlsMessage,
  groupInfoFromBytes,
  inspectMlsMessage,
  keyPackageFromBytes,
  membersOfRatchetTree,
  ratchetTreeFromBytes,
} from './mls-message';
import { MlsErrorReason, MlsGroupError } from './mls.errors';
import { RoomGroup, groupIdForRoom } from './room-group';

const OTHER_ROOM_GROUP_ID = new TextEncoder().encode('mimi://hub.example/g/elsewhere');
const ONE_TRAILING_BYTE = Uint8Array.of(0);

/** A room at epoch 1 with Alice (hub) and Cathy (follower), plus a commit and an application message. */
async function fixtures() {
  const alice = await new FakeProvider(HUB_DOMAIN).client(ALICE);
  const cathy = await new FakeProvider(FOLLOWER_DOMAIN).client(CATHY);
  const room = await RoomGroup.create(alice, {
    roomUri: ROOM_URI,
    hub: await HubExternalSender.generate(HUB_DOMAIN),
    participants: [asParticipant(ALICE, ROLE_ADMIN)],
  });
  const cathyKeyPackage = await cathy.createKeyPackage();
  const added = await room.addMembers([cathyKeyPackage.keyPackage], [asParticipant(CATHY, ROLE_MEMBER)]);
  await cathy.joinFromWelcome(added.welcome!, added.ratchetTree);
  const application = await alice.encrypt(room.groupId, HELLO_FROM_ALICE);
  return { alice, cathy, room, added, application, cathyKeyPackage };
}

beforeAll(() => Logger.overrideLogger(['error', 'warn']));

describe('inspectMlsMessage', () => {
  it('reads group, epoch and content type of a PrivateMessage, whose sender stays hidden', async () => {
    const { room, application } = await fixtures();
    const header = inspectMlsMessage(application);
    expect(header).toMatchObject({ wireFormat: 'mls_private_message', epoch: 1n, contentType: 'application' });
    expect(Buffer.from(header.groupId!)).toEqual(Buffer.from(groupIdForRoom(ROOM_URI)));
    expect(Buffer.from(header.groupId!)).toEqual(Buffer.from(room.groupId));
    expect(header.sender).toBeUndefined();
  });

  it('reads the sender leaf index of a PublicMessage commit', async () => {
    const { added } = await fixtures();
    expect(inspectMlsMessage(added.commit)).toMatchObject({
      wireFormat: 'mls_public_message',
      epoch: 0n,
      contentType: 'commit',
      sender: { type: 'member', leafIndex: 0 },
    });
  });

  it('lists the KeyPackageRefs of a framed Welcome and the epoch of a framed GroupInfo', async () => {
    const { added, cathyKeyPackage } = await fixtures();
    const welcome = inspectMlsMessage(frameMlsMessage('mls_welcome', added.welcome!));
    expect(welcome.keyPackageRefs?.map((r) => Buffer.from(r).toString('hex'))).toEqual([
      Buffer.from(cathyKeyPackage.ref).toString('hex'),
    ]);
    expect(welcome.groupId).toBeUndefined();
    const groupInfo = inspectMlsMessage(frameMlsMessage('mls_group_info', added.groupInfo));
    expect(groupInfo).toMatchObject({ wireFormat: 'mls_group_info', epoch: 1n });
    expect(inspectMlsMessage(frameMlsMessage('mls_key_package', cathyKeyPackage.keyPackage)).wireFormat).toBe(
      'mls_key_package',
    );
  });

  it('refuses truncated input and trailing bytes', async () => {
    const { application } = await fixtures();
    expect(() => inspectMlsMessage(application.subarray(0, application.length - 1))).toThrow(MlsGroupError);
    expect(() => decodeMlsMessageBytes(Buffer.concat([application, ONE_TRAILING_BYTE]))).toThrow(/1 trailing bytes/);
    try {
      inspectMlsMessage(Uint8Array.of(0, 1));
      throw new Error('expected a failure');
    } catch (e) {
      expect(e).toMatchObject({ reason: MlsErrorReason.Malformed, code: ErrorCode.Malformed });
    }
  });

  it('decodes the bare structs it produced and refuses them with a trailing byte', async () => {
    const { added, cathyKeyPackage } = await fixtures();
    expect(groupInfoFromBytes(added.groupInfo).groupContext.epoch).toBe(1n);
    expect(keyPackageFromBytes(cathyKeyPackage.keyPackage).cipherSuite).toBe(
      'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
    );
    expect(() => ratchetTreeFromBytes(Buffer.concat([added.ratchetTree, ONE_TRAILING_BYTE]))).toThrow(MlsGroupError);
  });
});

describe('checkEpoch', () => {
  const at = (header: MlsMessageHeader, epoch: bigint): MlsMessageHeader => ({ ...header, epoch });

  it('classifies messages as protocol-06 §5.3/§5.4 require', async () => {
    const { room, added, application } = await fixtures();
    const commit = inspectMlsMessage(added.commit);
    const app = inspectMlsMessage(application);
    const hub = { groupId: room.groupId, epoch: 5n };
    const cases: [MlsMessageHeader, EpochVerdict][] = [
      [at(commit, 5n), EpochVerdict.Ok],
      [at(commit, 4n), EpochVerdict.WrongEpoch],
      [at(commit, 6n), EpochVerdict.WrongEpoch],
      [at(app, 5n), EpochVerdict.Ok],
      [at(app, 4n), EpochVerdict.EpochTooOld],
      [at(app, 6n), EpochVerdict.NotAllowed],
      [{ ...at(app, 5n), groupId: OTHER_ROOM_GROUP_ID }, EpochVerdict.NotAllowed],
      [inspectMlsMessage(frameMlsMessage('mls_welcome', added.welcome!)), EpochVerdict.NotAllowed],
    ];
    for (const [header, verdict] of cases) {
      const result = checkEpoch(header, hub);
      expect({ epoch: header.epoch, type: header.contentType, verdict: result.verdict }).toEqual({
        epoch: header.epoch,
        type: header.contentType,
        verdict,
      });
      expect(result.currentEpoch).toBe(5n);
    }
  });

  it('turns a failed check into an error with the hub epoch', async () => {
    const { room, application } = await fixtures();
    const check = checkEpoch(at(inspectMlsMessage(application), 1n), { groupId: room.groupId, epoch: 3n });
    expect(epochCheckError(check, 1n)).toMatchObject({
      reason: MlsErrorReason.EpochTooOld,
      code: ErrorCode.EpochTooOld,
      currentEpoch: 3n,
      messageEpoch: 1n,
    });
    expect(check.reason).toBe('application message from epoch 1, the room is at 3');
  });
});

describe(HubGroupView.name, () => {
  it('tracks the epoch from accepted commits without any group secret', async () => {
    const { alice, room, application } = await fixtures();
    const view = new HubGroupView(room.groupId, 1n);
    expect(view.check(application).check.verdict).toBe(EpochVerdict.Ok);

    const next = await room.commitPendingProposals();
    const { header, check } = view.check(next.commit);
    expect(check.verdict).toBe(EpochVerdict.Ok);
    view.accept(header);
    expect(view.epoch).toBe(2n);
    expect((await alice.group(room.groupId)).epoch).toBe(view.epoch);

    expect(view.check(application).check).toMatchObject({ verdict: EpochVerdict.EpochTooOld, currentEpoch: 2n });
    expect(() => view.accept(header)).toThrow(expect.objectContaining({ reason: MlsErrorReason.WrongEpoch }));
    expect(view.epoch).toBe(2n);
  });
});

describe('membersOfRatchetTree', () => {
  it('maps leaf indices to the users in their credentials from the public tree alone', async () => {
    const { added } = await fixtures();
    expect(membersOfRatchetTree(added.ratchetTree).map((m) => [m.leafIndex, m.user])).toEqual([
      [0, ALICE],
      [1, CATHY],
    ]);
  });
});
