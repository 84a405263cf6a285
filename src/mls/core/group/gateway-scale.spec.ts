/**
 * The gateway case at some scale: one state for many local members. A commit from a remote
 * member costs one HPKE decryption however many puppets the gateway holds, and every puppet can
 * then commit and send from the same state.
 */
import {
  addLocalMemberFromWelcome,
  createCommit,
  createGroup,
  epochKeys,
  joinFromWelcome,
  processCommit,
  propose,
  protect,
  unprotect,
} from './index';
import { decode, enc, groupExtensions, joinerKeys, newClient, sameEpoch, signer, suite } from './group.fixtures';

const PUPPETS = 40;

describe('a gateway holding many members of one group', () => {
  it('decrypts a remote commit once for all its puppets', () => {
    const a = newClient('remote');
    let aState = createGroup({
      suite,
      groupId: enc.encode('big-room'),
      extensions: groupExtensions(),
      creator: {
        leafNode: a.kp.keyPackage.leafNode,
        encryptionPrivateKey: a.kp.encryptionPrivateKey,
        signaturePrivateKey: a.sig.privateKey,
      },
    });
    const puppets = Array.from({ length: PUPPETS }, (_, i) => newClient(`puppet-${i}`));
    const added = createCommit(aState, {
      committer: signer(0, a),
      proposals: puppets.map((p) => propose.add(p.kp.keyPackage)),
    });
    aState = added.state;
    const welcome = decode(added.welcome!);
    let gState = joinFromWelcome(welcome, joinerKeys(puppets[0]!)).state;
    for (const p of puppets.slice(1)) gState = addLocalMemberFromWelcome(gState, welcome, joinerKeys(p)).state;
    expect(gState.localLeaves).toHaveLength(PUPPETS);
    sameEpoch(aState, gState);

    // The remote member commits with a path: one HPKE open for the whole gateway.
    const commit = createCommit(aState, { committer: signer(0, a), forcePath: true });
    aState = commit.state;
    const opens = jest.spyOn(suite, 'hpkeOpen');
    try {
      gState = processCommit(gState, decode(commit.commitMessage)).state!;
      expect(opens).toHaveBeenCalledTimes(1);
    } finally {
      opens.mockRestore();
    }
    sameEpoch(aState, gState);
    expect(gState.localLeaves).toHaveLength(PUPPETS);

    // Any puppet commits from the shared state; the remote member follows; puppets talk.
    const last = PUPPETS;
    const byPuppet = createCommit(gState, { committer: signer(last, puppets[last - 1]!) });
    gState = byPuppet.state;
    aState = processCommit(aState, decode(byPuppet.commitMessage)).state!;
    sameEpoch(aState, gState);
    const gKeys = epochKeys(gState);
    const aKeys = epochKeys(aState);
    for (const leaf of [1, 17, last]) {
      const msg = protect(gState, gKeys, signer(leaf, puppets[leaf - 1]!), enc.encode(`from ${leaf}`));
      const read = unprotect(aState, decode(msg), () => aKeys);
      expect(read.senderLeaf).toBe(leaf);
    }
  });
});
