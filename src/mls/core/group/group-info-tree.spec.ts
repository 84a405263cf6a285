/**
 * The ratchet tree in a commit's GroupInfo: there when the GroupInfo is the Welcome's, absent
 * otherwise (the tree goes beside the GroupInfo; encoding and signing it for every commit is
 * O(group)). And the memoised `RatchetTree.toBytes()` follows every change of the tree.
 */
import { encodeValue } from '../../../codec/tls-codec';
import { RatchetTree } from '../ratchet-tree';
import { findExtension, ratchetTreeCodec, ratchetTreeExtension } from '../structs';
import { COMPONENT, decode, enc, joinerKeys, newClient, signer, threeMembers } from './group.fixtures';
import { createCommit, joinFromWelcome, processCommit, propose } from './index';

const freshBytes = (t: RatchetTree): Uint8Array => encodeValue(t.toNodes(), ratchetTreeCodec);

describe('commit GroupInfo and the ratchet tree', () => {
  it('puts the tree in the GroupInfo of a commit that adds, and only then', () => {
    const { a, aState } = threeMembers();
    const appData = createCommit(aState, {
      committer: signer(0, a),
      proposals: [propose.appDataUpdate(COMPONENT, enc.encode('v1'))],
    });
    expect(appData.welcome).toBeUndefined();
    expect(findExtension(appData.groupInfo.extensions, ratchetTreeExtension)).toBeUndefined();

    const d = newClient('d');
    const add = createCommit(appData.state, { committer: signer(0, a), proposals: [propose.add(d.kp.keyPackage)] });
    const inInfo = findExtension(add.groupInfo.extensions, ratchetTreeExtension);
    expect(inInfo).toBeDefined();
    expect(Buffer.from(encodeValue(inInfo!, ratchetTreeCodec))).toEqual(Buffer.from(freshBytes(add.state.tree)));
    // The Welcome alone (no tree beside it) is enough to join.
    const joined = joinFromWelcome(decode(add.welcome!), joinerKeys(d));
    expect(joined.state.context.epoch).toBe(add.state.context.epoch);

    const noTree = createCommit(add.state, {
      committer: signer(0, a),
      proposals: [propose.add(newClient('e').kp.keyPackage)],
      ratchetTreeInWelcome: false,
    });
    expect(findExtension(noTree.groupInfo.extensions, ratchetTreeExtension)).toBeUndefined();
  });

  it('gives the bytes of the tree as it is after every kind of change', () => {
    const { b, aState, gState } = threeMembers();
    const tree = aState.tree.clone();
    const before = tree.toBytes();
    expect(tree.toBytes()).toBe(before);
    const copy = tree.clone();
    expect(Buffer.from(copy.toBytes())).toEqual(Buffer.from(before));

    const update = createCommit(gState, { committer: signer(1, b), forcePath: true });
    const followed = processCommit(aState, decode(update.commitMessage)).state!;
    expect(Buffer.from(followed.tree.toBytes())).toEqual(Buffer.from(freshBytes(followed.tree)));
    expect(Buffer.from(followed.tree.toBytes())).not.toEqual(Buffer.from(before));

    tree.addLeaf(newClient('x').kp.keyPackage.leafNode); // leaf 3, the last blank one
    expect(Buffer.from(tree.toBytes())).toEqual(Buffer.from(freshBytes(tree)));
    expect(tree.addLeaf(newClient('y').kp.keyPackage.leafNode)).toBe(4); // doubles the tree
    expect(tree.leafCount).toBe(8);
    expect(Buffer.from(tree.toBytes())).toEqual(Buffer.from(freshBytes(tree)));
    tree.removeLeaf(4); // truncates back to 4 leaves
    expect(tree.leafCount).toBe(4);
    expect(Buffer.from(tree.toBytes())).toEqual(Buffer.from(freshBytes(tree)));
    tree.removeLeaf(3);
    expect(Buffer.from(tree.toBytes())).toEqual(Buffer.from(freshBytes(tree)));
    // The clone taken before the changes kept its own bytes.
    expect(Buffer.from(copy.toBytes())).toEqual(Buffer.from(before));
  });
});
