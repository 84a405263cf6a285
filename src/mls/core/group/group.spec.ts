/**
 * Round trips of the group state machine: a gateway holding two local members (B and C, one
 * shared state) next to a single-client member A; adds by Welcome, path updates, AppDataUpdate,
 * SelfRemove, Remove, an external join carrying an AppDataUpdate, application messages; refusals
 * (bad confirmation tag, tampered path, policy) leave the state usable as it was.
 */
import { MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 as suite } from '../crypto';
import { MlsProtocolError } from '../errors';
import { decodeMlsMessage, encodeMlsMessage, membershipTag, signContent } from '../framing';
import { createKeyPackage, defaultCapabilities } from '../key-package';
import {
  ContentType,
  CredentialType,
  ExtensionType,
  ProposalType,
  WireFormat,
  appDataDictionaryExtension,
  externalSendersExtension,
  findExtension,
  makeExtension,
  requiredCapabilitiesExtension,
  type Extension,
  type MLSMessage,
} from '../structs';
import { contextBytes } from './common';
import {
  addLocalMemberFromWelcome,
  appDataComponent,
  createCommit,
  createGroup,
  epochAuthenticator,
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
  type CommitPolicy,
  type GroupState,
  type LocalSigner,
} from './index';

const enc = new TextEncoder();

function newClient(name: string) {
  const sig = suite.signatureGenerateKeyPair();
  const credential = { credentialType: CredentialType.basic, identity: enc.encode(name) } as const;
  const kp = createKeyPackage({ suite, credential, signatureKey: sig.publicKey, signaturePrivateKey: sig.privateKey });
  return { name, sig, credential, kp };
}
type Client = ReturnType<typeof newClient>;

const joinerKeys = (c: Client) => ({
  keyPackage: c.kp.keyPackage,
  initPrivateKey: c.kp.initPrivateKey,
  encryptionPrivateKey: c.kp.encryptionPrivateKey,
});

const signer = (leafIndex: number, c: Client): LocalSigner => ({ leafIndex, signaturePrivateKey: c.sig.privateKey });
const decode = (b: Uint8Array): MLSMessage => decodeMlsMessage(b);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const COMPONENT = 0x8001;
const externalSender = suite.signatureGenerateKeyPair();

function groupExtensions(): Extension[] {
  return [
    makeExtension(requiredCapabilitiesExtension, {
      extensionTypes: [ExtensionType.app_data_dictionary],
      proposalTypes: [ProposalType.app_data_update, ProposalType.self_remove],
      credentialTypes: [],
    }),
    makeExtension(externalSendersExtension, [
      {
        signatureKey: externalSender.publicKey,
        credential: { credentialType: CredentialType.basic, identity: enc.encode('hub') },
      },
    ]),
    makeExtension(appDataDictionaryExtension, { componentData: [{ componentId: COMPONENT, data: enc.encode('v0') }] }),
  ];
}

/** A (leaf 0) alone; the gateway G holds B (leaf 1) and C (leaf 2) in one state. */
function threeMembers() {
  const a = newClient('a');
  const b = newClient('b');
  const c = newClient('c');
  let aState = createGroup({
    suite,
    groupId: enc.encode('room-1'),
    extensions: groupExtensions(),
    creator: {
      leafNode: a.kp.keyPackage.leafNode,
      encryptionPrivateKey: a.kp.encryptionPrivateKey,
      signaturePrivateKey: a.sig.privateKey,
    },
  });
  const added = createCommit(aState, {
    committer: signer(0, a),
    proposals: [propose.add(b.kp.keyPackage), propose.add(c.kp.keyPackage)],
  });
  aState = added.state;
  expect(added.effects.addedLeaves).toEqual([1, 2]);
  const welcome = decode(added.welcome!);
  const joinedB = joinFromWelcome(welcome, joinerKeys(b));
  expect(joinedB.leafIndex).toBe(1);
  const joinedC = addLocalMemberFromWelcome(joinedB.state, welcome, joinerKeys(c));
  expect(joinedC.leafIndex).toBe(2);
  return { a, b, c, aState, gState: joinedC.state };
}

function sameEpoch(...states: GroupState[]): void {
  const [first, ...rest] = states;
  for (const s of rest) {
    expect(s.context.epoch).toBe(first!.context.epoch);
    expect(hex(epochAuthenticator(s))).toBe(hex(epochAuthenticator(first!)));
  }
}

describe('group state machine', () => {
  it('runs a room through adds, updates, AppDataUpdate, SelfRemove, Remove and an external join', () => {
    const { a, b, c, ...start } = threeMembers();
    let { aState, gState } = start;
    expect(gState.localLeaves).toEqual([1, 2]);
    sameEpoch(aState, gState);

    // B (a puppet) commits an update of its path; A follows.
    const update = createCommit(gState, { committer: signer(1, b), forcePath: true });
    gState = update.state;
    aState = processCommit(aState, decode(update.commitMessage)).state!;
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

  it('refuses a commit with a bad confirmation tag and keeps the state', () => {
    const { a, aState, gState } = threeMembers();
    const commit = createCommit(aState, { committer: signer(0, a) });
    const message = decode(commit.commitMessage);
    if (message.wireFormat !== WireFormat.mls_public_message) throw new Error('not public');
    const pub = message.publicMessage;
    const tag = Uint8Array.from(pub.auth.confirmationTag!);
    tag[0]! ^= 1;
    const auth = { ...pub.auth, confirmationTag: tag };
    // A valid membership tag over the bad confirmation tag: only the confirmation check can catch it.
    const tbm = membershipTag(
      suite,
      aState.secrets.membershipKey,
      { wireFormat: WireFormat.mls_public_message, content: pub.content, auth },
      contextBytes(aState.context),
    );
    const tampered = { ...pub, auth, membershipTag: tbm };
    const before = hex(epochAuthenticator(gState));
    expect(() => processCommit(gState, tampered)).toThrow(expect.objectContaining({ failure: 'badTag' }));
    expect(hex(epochAuthenticator(gState))).toBe(before);
    // The genuine commit still applies to the same state.
    const ok = processCommit(gState, message).state!;
    sameEpoch(ok, commit.state);
  });

  it('refuses a tampered path (re-signed by the committer) and keeps the state', () => {
    const { a, aState, gState } = threeMembers();
    const commit = createCommit(aState, { committer: signer(0, a), forcePath: true });
    const message = decode(commit.commitMessage);
    if (message.wireFormat !== WireFormat.mls_public_message) throw new Error('not public');
    const content = message.publicMessage.content;
    if (content.contentType !== ContentType.commit) throw new Error('not a commit');
    const path = content.commit.path!;
    const badNodes = path.nodes.map((n, i) =>
      i === 0 ? { ...n, encryptionKey: suite.hpkeGenerateKeyPair().publicKey } : n,
    );
    const badContent = { ...content, commit: { ...content.commit, path: { ...path, nodes: badNodes } } };
    const signed = signContent(suite, {
      wireFormat: WireFormat.mls_public_message,
      content: badContent,
      signaturePrivateKey: a.sig.privateKey,
      groupContext: contextBytes(aState.context),
    });
    const auth = { ...signed.auth, confirmationTag: message.publicMessage.auth.confirmationTag! };
    const ac = { ...signed, auth };
    const tampered = {
      content: badContent,
      auth,
      membershipTag: membershipTag(suite, aState.secrets.membershipKey, ac, contextBytes(aState.context)),
    };
    const before = gState.context.epoch;
    expect(() => processCommit(gState, tampered)).toThrow(MlsProtocolError);
    expect(() => processCommit(gState, tampered)).toThrow(/parent_hash does not match/);
    expect(gState.context.epoch).toBe(before);
    sameEpoch(processCommit(gState, message).state!, commit.state);
  });

  it('lets the policy hook refuse a GroupContextExtensions that rewrites external_senders', () => {
    const { a, aState, gState } = threeMembers();
    const other = suite.signatureGenerateKeyPair();
    const rewritten = groupExtensions().map((ext) =>
      ext.extensionType === ExtensionType.external_senders
        ? makeExtension(externalSendersExtension, [
            {
              signatureKey: other.publicKey,
              credential: { credentialType: CredentialType.basic, identity: enc.encode('evil') },
            },
          ])
        : ext,
    );
    const commit = createCommit(aState, {
      committer: signer(0, a),
      proposals: [propose.groupContextExtensions(rewritten)],
    });
    const seen: number[] = [];
    const policy: CommitPolicy = ({ proposals, context }) => {
      for (const { proposal } of proposals) {
        seen.push(proposal.proposalType);
        if (
          proposal.proposalType !== ProposalType.group_context_extensions ||
          !('groupContextExtensions' in proposal)
        ) {
          continue;
        }
        const now = findExtension(context.extensions, externalSendersExtension);
        const next = findExtension(proposal.groupContextExtensions.extensions, externalSendersExtension);
        if (JSON.stringify(now) !== JSON.stringify(next)) return 'external_senders may not change';
      }
      return undefined;
    };
    expect(() => processCommit(gState, decode(commit.commitMessage), { policy })).toThrow(
      /external_senders may not change/,
    );
    expect(seen).toEqual([ProposalType.group_context_extensions]);
    // Without the policy the same commit is valid MLS.
    sameEpoch(processCommit(gState, decode(commit.commitMessage)).state!, commit.state);
  });

  it('refuses proposal lists that break §12.2', () => {
    const { a, b, aState } = threeMembers();
    expect(() => createCommit(aState, { committer: signer(0, a), proposals: [propose.remove(0)] })).toThrow(
      /committer/,
    );
    expect(() =>
      createCommit(aState, { committer: signer(0, a), proposals: [propose.remove(1), propose.remove(1)] }),
    ).toThrow(/several/);
    expect(() => createCommit(aState, { committer: signer(0, a), proposals: [propose.add(b.kp.keyPackage)] })).toThrow(
      /already in the group/,
    );
    expect(() => createCommit(aState, { committer: signer(0, a), proposals: [propose.appDataRemove(0x9999)] })).toThrow(
      /absent component/,
    );
    expect(() => createCommit(aState, { committer: signer(0, a), proposals: [propose.selfRemove()] })).toThrow(
      /by value/,
    );
  });
});

function encodeAndDecodeGroupInfo(info: ReturnType<typeof groupInfo>): MLSMessage {
  return decode(encodeMlsMessage({ wireFormat: WireFormat.mls_group_info, groupInfo: info }));
}
