/**
 * Round trips of the group state machine: a gateway holding two local members (B and C, one
 * shared state) next to a single-client member A; adds by Welcome, path updates, AppDataUpdate,
 * an external-sender Add, Update and SelfRemove proposals, Remove, external joins (with an
 * AppDataUpdate, with pending SelfRemoves), handshake and application PrivateMessages.
 */
import { defaultCapabilities } from '../key-package';
import { RatchetTree } from '../ratchet-tree';
import { ratchetTreeExtension, WireFormat, type MLSMessage } from '../structs';
import {
  COMPONENT,
  decode,
  enc,
  externalSender,
  hex,
  joinerKeys,
  newClient,
  sameEpoch,
  signer,
  suite,
  threeMembers,
} from './group.fixtures';
import { encodeMlsMessage } from '../framing';
import {
  appDataComponent,
  createCommit,
  epochKeys,
  exportSecret,
  externalProposalMessage,
  groupInfo,
  joinByExternalCommit,
  joinFromWelcome,
  processCommit,
  processProposal,
  proposalMessage,
  proposeUpdate,
  propose,
  protect,
  unprotect,
} from './index';

describe('group state machine', () => {
  it('an add without a Welcome encodes no ratchet tree; its GroupInfo, when asked for, carries it', () => {
    const { a, aState } = threeMembers();
    const d = newClient('d');
    const toBytes = jest.spyOn(RatchetTree.prototype, 'toBytes');
    try {
      const added = createCommit(aState, {
        committer: signer(0, a),
        proposals: [propose.add(d.kp.keyPackage)],
        welcome: false,
      });
      expect(added.welcome).toBeUndefined();
      expect(toBytes).not.toHaveBeenCalled();
      const tree = added.groupInfo.extensions.find((e) => e.extensionType === ratchetTreeExtension.type);
      expect(toBytes).toHaveBeenCalledTimes(1);
      expect(hex(tree!.extensionData)).toBe(hex(added.state.tree.toBytes()));
    } finally {
      toBytes.mockRestore();
    }
  });

  it('runs a room through adds, updates, AppDataUpdate, SelfRemove, Remove and an external join', () => {
    const { a, b, c, ...start } = threeMembers();
    let { aState, gState } = start;
    expect(gState.localLeaves).toEqual([1, 2]);
    sameEpoch(aState, gState);

    // B (a puppet) commits an update of its path; A follows.
    const update = createCommit(gState, { committer: signer(1, b), forcePath: true });
    gState = update.state;
    expect(update.newPrivateKeys.has(2)).toBe(true);
    const aSeesUpdate = processCommit(aState, decode(update.commitMessage));
    expect(aSeesUpdate.newPrivateKeys.size).toBeGreaterThan(0);
    aState = aSeesUpdate.state!;
    sameEpoch(aState, gState);

    // C (the other puppet) commits too: the gateway's one shared key map serves it.
    const update2 = createCommit(gState, { committer: signer(2, c) });
    gState = update2.state;
    aState = processCommit(aState, decode(update2.commitMessage)).state!;
    sameEpoch(aState, gState);

    // A changes a component by AppDataUpdate: no path needed.
    const appData = createCommit(aState, {
      committer: signer(0, a),
      proposals: [propose.appDataUpdate(COMPONENT, enc.encode('v1'))],
    });
    expect(decode(appData.commitMessage)).toMatchObject({ wireFormat: WireFormat.mls_public_message });
    aState = appData.state;
    const seen = processCommit(gState, decode(appData.commitMessage));
    gState = seen.state!;
    expect(seen.effects.appDataChanged).toEqual([COMPONENT]);
    expect(appDataComponent(gState.context.extensions, COMPONENT)).toEqual(enc.encode('v1'));
    sameEpoch(aState, gState);

    // The hub (external sender) proposes adding D; B commits it by reference.
    const d = newClient('d');
    const extProposal = externalProposalMessage(
      suite,
      gState.context,
      0,
      externalSender.privateKey,
      propose.add(d.kp.keyPackage),
    );
    const inG = processProposal(gState, decode(extProposal));
    const inA = processProposal(aState, decode(extProposal));
    expect(hex(inG.ref)).toBe(hex(inA.ref));
    const addD = createCommit(inG.state, { committer: signer(1, b), proposalRefs: [inG.ref] });
    gState = addD.state;
    aState = processCommit(inA.state, decode(addD.commitMessage)).state!;
    let dState = joinFromWelcome(decode(addD.welcome!), joinerKeys(d)).state;
    expect(dState.localLeaves).toEqual([3]);
    sameEpoch(aState, gState, dState);

    // C leaves with SelfRemove; A commits it by reference.
    const selfRemove = proposalMessage(gState, signer(2, c), propose.selfRemove());
    gState = selfRemove.state;
    const aGot = processProposal(aState, decode(selfRemove.message));
    dState = processProposal(dState, decode(selfRemove.message)).state;
    const commitSelfRemove = createCommit(aGot.state, { committer: signer(0, a), proposalRefs: [aGot.ref] });
    aState = commitSelfRemove.state;
    const gAfter = processCommit(gState, decode(commitSelfRemove.commitMessage));
    expect(gAfter.effects.removedLocalLeaves).toEqual([2]);
    gState = gAfter.state!;
    expect(gState.localLeaves).toEqual([1]);
    expect([...gState.privateKeys.keys()].some((x) => x === 4)).toBe(false);
    dState = processCommit(dState, decode(commitSelfRemove.commitMessage)).state!;
    sameEpoch(aState, gState, dState);

    // A removes D.
    const removeD = createCommit(aState, { committer: signer(0, a), proposals: [propose.remove(3)] });
    aState = removeD.state;
    gState = processCommit(gState, decode(removeD.commitMessage)).state!;
    const dRemoved = processCommit(dState, decode(removeD.commitMessage));
    expect(dRemoved.state).toBeUndefined();
    expect(dRemoved.effects.removedLocalLeaves).toEqual([3]);
    sameEpoch(aState, gState);

    // E joins by external commit and sets its own component value on the way in.
    const e = newClient('e');
    const info = groupInfo(aState, signer(0, a));
    const ext = joinByExternalCommit(
      encodeAndDecodeGroupInfo(info),
      {
        leafFields: {
          signatureKey: e.sig.publicKey,
          credential: e.credential,
          capabilities: defaultCapabilities(),
          extensions: [],
        },
        signaturePrivateKey: e.sig.privateKey,
      },
      { extraProposals: [propose.appDataUpdate(COMPONENT, enc.encode('from-e'))] },
    );
    const eState = ext.state;
    expect(ext.leafIndex).toBe(2);
    const aExt = processCommit(aState, decode(ext.commitMessage));
    aState = aExt.state!;
    expect(aExt.effects.committerLeaf).toBe(2);
    expect(aExt.effects.appDataChanged).toEqual([COMPONENT]);
    gState = processCommit(gState, decode(ext.commitMessage)).state!;
    expect(appDataComponent(gState.context.extensions, COMPONENT)).toEqual(enc.encode('from-e'));
    sameEpoch(aState, gState, eState);

    // E commits (it holds its path keys), everybody follows; exporters agree.
    const eCommit = createCommit(eState, { committer: signer(2, e) });
    aState = processCommit(aState, decode(eCommit.commitMessage)).state!;
    gState = processCommit(gState, decode(eCommit.commitMessage)).state!;
    sameEpoch(aState, gState, eCommit.state);
    expect(hex(exportSecret(aState, 'mimi', enc.encode('x'), 32))).toBe(
      hex(exportSecret(gState, 'mimi', enc.encode('x'), 32)),
    );

    // Application messages: B to the group; A reads, and a late message of the previous epoch too.
    const gKeys = epochKeys(gState);
    const aKeys = epochKeys(aState);
    const msg = protect(gState, gKeys, signer(1, b), enc.encode('hello'));
    const read = unprotect(aState, decode(msg), (ep) => (ep === aState.context.epoch ? aKeys : undefined));
    expect(read.senderLeaf).toBe(1);
    expect(read.applicationData).toEqual(enc.encode('hello'));
  });

  it('applies an Update proposal of a puppet and keeps its new leaf key', () => {
    const { a, b, ...start } = threeMembers();
    let { aState, gState } = start;
    const upd = proposeUpdate(gState, signer(1, b));
    gState = upd.state;
    const inA = processProposal(aState, decode(upd.message));
    const commit = createCommit(inA.state, { committer: signer(0, a), proposalRefs: [inA.ref] });
    aState = commit.state;
    const seen = processCommit(gState, decode(commit.commitMessage));
    expect(seen.effects.updatedLeaves).toEqual([1]);
    gState = seen.state!;
    expect(gState.localLeaves).toEqual([1, 2]);
    expect(hex(gState.privateKeys.get(2)!.publicKey)).toBe(hex(gState.tree.leafNode(1)!.encryptionKey));
    expect(gState.pendingLeafKeys).toEqual([]);
    sameEpoch(aState, gState);
  });

  it('takes pending SelfRemove proposals into an external commit by reference', () => {
    const { a, c, ...start } = threeMembers();
    let { aState, gState } = start;
    const leave = proposalMessage(gState, signer(2, c), propose.selfRemove());
    gState = leave.state;
    aState = processProposal(aState, decode(leave.message)).state;
    const e = newClient('e');
    const ext = joinByExternalCommit(
      groupInfo(aState, signer(0, a)),
      {
        leafFields: {
          signatureKey: e.sig.publicKey,
          credential: e.credential,
          capabilities: defaultCapabilities(),
          extensions: [],
        },
        signaturePrivateKey: e.sig.privateKey,
      },
      { selfRemoves: [decode(leave.message)] },
    );
    expect(ext.effects.removedLeaves).toEqual([2]);
    expect(ext.leafIndex).toBe(2);
    const inA = processCommit(aState, decode(ext.commitMessage));
    const inG = processCommit(gState, decode(ext.commitMessage));
    expect(inG.effects.removedLocalLeaves).toEqual([2]);
    expect(inG.state!.localLeaves).toEqual([1]);
    sameEpoch(inA.state!, inG.state!, ext.state);
  });

  it('handles proposals and commits sent as PrivateMessages', () => {
    const { a, b, ...start } = threeMembers();
    let { aState, gState } = start;
    const aKeys = epochKeys(aState);
    const gKeys = epochKeys(gState);
    const prop = proposalMessage(gState, signer(1, b), propose.remove(2), { privateWith: gKeys });
    expect(decode(prop.message).wireFormat).toBe(WireFormat.mls_private_message);
    gState = prop.state;
    const got = processProposal(aState, decode(prop.message), aKeys);
    expect(hex(got.ref)).toBe(hex(prop.ref));
    const commit = createCommit(got.state, { committer: signer(0, a), proposalRefs: [got.ref], privateWith: aKeys });
    expect(decode(commit.commitMessage).wireFormat).toBe(WireFormat.mls_private_message);
    aState = commit.state;
    const seen = processCommit(gState, decode(commit.commitMessage), { epochKeys: gKeys });
    expect(seen.effects.removedLocalLeaves).toEqual([2]);
    gState = seen.state!;
    sameEpoch(aState, gState);
  });

  it('injects external and resumption PSKs (Welcome joiners included)', () => {
    const { a, ...start } = threeMembers();
    let { aState, gState } = start;
    const pskId = enc.encode('psk-1');
    const psk = enc.encode('a shared secret of some length');
    const externalPsks = (id: Uint8Array) => (hex(id) === hex(pskId) ? psk : undefined);
    const d = newClient('d');
    const withPsk = createCommit(aState, {
      committer: signer(0, a),
      proposals: [propose.add(d.kp.keyPackage), propose.externalPsk(suite, pskId)],
      externalPsks,
    });
    aState = withPsk.state;
    expect(() => processCommit(gState, decode(withPsk.commitMessage))).toThrow(/external PSK .* is not available/);
    gState = processCommit(gState, decode(withPsk.commitMessage), { externalPsks }).state!;
    const dState = joinFromWelcome(decode(withPsk.welcome!), joinerKeys(d), { externalPsks }).state;
    sameEpoch(aState, gState, dState);

    const resumption = createCommit(aState, {
      committer: signer(0, a),
      proposals: [propose.resumptionPsk(suite, aState.context.groupId, aState.context.epoch - 1n)],
    });
    gState = processCommit(gState, decode(resumption.commitMessage)).state!;
    sameEpoch(resumption.state, gState);
  });

  it('keeps past epochs for late application messages', () => {
    const { a, b, ...start } = threeMembers();
    let { aState, gState } = start;
    const oldEpoch = gState.context.epoch;
    const gOldKeys = epochKeys(gState);
    const aOldKeys = epochKeys(aState);
    const late = protect(gState, gOldKeys, signer(1, b), enc.encode('late'));
    const next = createCommit(aState, { committer: signer(0, a) });
    aState = next.state;
    gState = processCommit(gState, decode(next.commitMessage)).state!;
    const read = unprotect(aState, decode(late), (ep) => (ep === oldEpoch ? aOldKeys : undefined));
    expect(read.applicationData).toEqual(enc.encode('late'));
    expect(read.epoch).toBe(oldEpoch);
  });
});

function encodeAndDecodeGroupInfo(info: ReturnType<typeof groupInfo>): MLSMessage {
  return decode(encodeMlsMessage({ wireFormat: WireFormat.mls_group_info, groupInfo: info }));
}
