/**
 * Refusals of the group state machine: a bad confirmation tag, a tampered (re-signed) path, the
 * caller's policy and §12.2 proposal-list rules; the refused state stays usable as it was.
 */
import { MlsProtocolError } from '../errors';
import { membershipTag, signContent } from '../framing';
import {
  ContentType,
  CredentialType,
  ExtensionType,
  ProposalType,
  WireFormat,
  externalSendersExtension,
  findExtension,
  makeExtension,
} from '../structs';
import { contextBytes } from './common';
import {
  decode,
  enc,
  groupExtensions,
  hex,
  joinerKeys,
  newClient,
  sameEpoch,
  signer,
  suite,
  threeMembers,
} from './group.fixtures';
import { checkJoinerKeys, createCommit, epochAuthenticator, processCommit, propose, type CommitPolicy } from './index';

describe('group state machine refusals', () => {
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

  it('refuses GroupContext extensions that some member does not support (§13.4)', () => {
    const { a, aState } = threeMembers();
    const unknownExtension = [...groupExtensions(), { extensionType: 0xff00, extensionData: new Uint8Array(0) }];
    expect(() =>
      createCommit(aState, { committer: signer(0, a), proposals: [propose.groupContextExtensions(unknownExtension)] }),
    ).toThrow(/does not support GroupContext extension 65280/);
  });

  it("refuses joiner keys that are not the KeyPackage's", () => {
    const x = newClient('x');
    const y = newClient('y');
    expect(() => checkJoinerKeys({ ...joinerKeys(x), encryptionPrivateKey: y.kp.encryptionPrivateKey })).toThrow(
      /leaf encryption private key/,
    );
    expect(() => checkJoinerKeys({ ...joinerKeys(x), signaturePrivateKey: y.sig.privateKey })).toThrow(/signature/);
    expect(() => checkJoinerKeys({ ...joinerKeys(x), signaturePrivateKey: x.sig.privateKey })).not.toThrow();
  });
});
