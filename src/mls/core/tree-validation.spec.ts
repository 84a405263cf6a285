import { hex, loadMlsVectors, toHex, VectorTally } from '../../../test/support/mls-vectors';
import { cipherSuiteById, isSupportedCipherSuite } from './crypto/suites';
import { MlsProtocolError } from './errors';
import { RatchetTree } from './ratchet-tree';
import { NodeType } from './structs/tree';
import { treeHashes } from './tree-hash';
import { validateRatchetTree } from './tree-validation';

interface TreeValidationVector {
  cipher_suite: number;
  tree: string;
  group_id: string;
  resolutions: number[][];
  tree_hashes: string[];
}

const vectors = loadMlsVectors<TreeValidationVector>('tree-validation');
const supported = vectors.filter((v) => isSupportedCipherSuite(v.cipher_suite));

describe('tree validation: tree-validation vectors', () => {
  const tally = new VectorTally('tree-validation');
  afterAll(() => tally.report());

  it('has the resolutions and tree hashes of every node, and validates', () => {
    for (const v of vectors) {
      if (!isSupportedCipherSuite(v.cipher_suite)) {
        tally.skip(`cipher suite ${v.cipher_suite} not implemented`);
        continue;
      }
      const suite = cipherSuiteById(v.cipher_suite);
      const tree = RatchetTree.fromBytes(hex(v.tree));
      expect(tree.nodeCount).toBe(v.resolutions.length);
      v.resolutions.forEach((r, x) => expect(tree.resolution(x)).toEqual(r));
      expect(treeHashes(suite, tree).map(toHex)).toEqual(v.tree_hashes);
      validateRatchetTree(suite, tree, { groupId: hex(v.group_id), treeHash: hex(v.tree_hashes[tree.root]!) });
      tally.pass();
    }
    expect(tally.passed).toBe(supported.length);
  });
});

/** A copy of `bytes` with the low bit of byte `i` flipped. */
function flipped(bytes: Uint8Array, i: number): Uint8Array {
  const out = bytes.slice();
  out[i] = out[i]! ^ 1;
  return out;
}

/** The largest vector tree of suite 1 with at least one parent node set by a commit. */
function sampleTree(): { tree: RatchetTree; groupId: Uint8Array } {
  const v = supported.filter((x) => x.cipher_suite === 1).sort((a, b) => b.tree.length - a.tree.length)[0]!;
  return { tree: RatchetTree.fromBytes(hex(v.tree)), groupId: hex(v.group_id) };
}

describe('validateRatchetTree rejects', () => {
  const suite = cipherSuiteById(1);

  function expectFailure(tree: RatchetTree, groupId: Uint8Array, failure: string): void {
    let caught: unknown;
    try {
      validateRatchetTree(suite, tree, { groupId });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MlsProtocolError);
    expect((caught as MlsProtocolError).failure).toBe(failure);
  }

  it('a wrong expected tree hash', () => {
    const { tree, groupId } = sampleTree();
    expect(() => validateRatchetTree(suite, tree, { groupId, treeHash: new Uint8Array(32) })).toThrow(/tree hash/);
  });

  it('a tampered parent hash', () => {
    const { tree, groupId } = sampleTree();
    const [p, pn] = [...tree.parents()][0]!;
    tree.setParent(p, { ...pn, parentHash: flipped(pn.parentHash, 0) });
    expectFailure(tree, groupId, 'invalid');
  });

  it('a tampered parent encryption key (the child no longer carries its parent hash)', () => {
    const { tree, groupId } = sampleTree();
    const [p, pn] = [...tree.parents()][0]!;
    tree.setParent(p, { ...pn, encryptionKey: flipped(pn.encryptionKey, 5) });
    expectFailure(tree, groupId, 'invalid');
  });

  it('a bad leaf signature, and a signature for another group', () => {
    const { tree, groupId } = sampleTree();
    expectFailure(
      tree,
      groupId.map((b) => b ^ 1),
      'badSignature',
    );
    const [leaf, leafNode] = [...tree.leaves()][1]!;
    tree.setLeaf(leaf, { ...leafNode, signature: flipped(leafNode.signature, 0) });
    expectFailure(tree, groupId, 'badSignature');
  });

  it('a duplicate encryption key', () => {
    const { tree, groupId } = sampleTree();
    const leaves = [...tree.leaves()];
    const [, a] = leaves[0]!;
    // Put leaf 0's encryption key into the last parent node: keys must be unique across all nodes.
    const [p, pn] = [...tree.parents()].pop()!;
    tree.setParent(p, { ...pn, encryptionKey: a.encryptionKey });
    expectFailure(tree, groupId, 'invalid');
    expect(() => validateRatchetTree(suite, tree, { groupId })).toThrow(/same encryption key/);
  });

  it('inconsistent unmerged leaves', () => {
    const { tree, groupId } = sampleTree();
    const root = tree.parentNode(tree.root)!;
    tree.setParent(tree.root, { ...root, unmergedLeaves: [1, 0] });
    expect(() => validateRatchetTree(suite, tree, { groupId })).toThrow(/strictly increasing/);
    tree.setParent(tree.root, { ...root, unmergedLeaves: [tree.leafCount + 1] });
    expect(() => validateRatchetTree(suite, tree, { groupId })).toThrow(/not a non-blank leaf/);
    tree.setParent(tree.root, { ...root, unmergedLeaves: [0] }); // node 1 (non-blank) does not list leaf 0
    expect(() => validateRatchetTree(suite, tree, { groupId })).toThrow(/node 1: lacks unmerged leaf 0/);
  });

  it('a tree without members', () => {
    const { tree, groupId } = sampleTree();
    const t = RatchetTree.fromNodes([{ nodeType: NodeType.leaf, leafNode: [...tree.leaves()][0]![1] }]);
    t.setLeaf(0, undefined);
    expect(() => validateRatchetTree(suite, t, { groupId })).toThrow(/no members/);
  });
});
