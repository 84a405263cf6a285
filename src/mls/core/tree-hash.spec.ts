import { hex, loadMlsVectors, toHex } from '../../../test/support/mls-vectors';
import type { CipherSuite } from './crypto/cipher-suite';
import { cipherSuiteById } from './crypto/suites';
import { MlsProtocolError } from './errors';
import { RatchetTree } from './ratchet-tree';
import { originalSiblingTreeHash, seedTreeHashes, treeHash, treeHashes, verifyParentHashes } from './tree-hash';

interface TreeValidationVector {
  cipher_suite: number;
  tree: string;
  group_id: string;
}

/** The tree-validation vectors of suite 1 (their trees are valid, so parent hashes check). */
const trees = loadMlsVectors<TreeValidationVector>('tree-validation')
  .filter((v) => v.cipher_suite === 1)
  .map((v) => RatchetTree.fromBytes(hex(v.tree)));

/** Suite 1 with its hash calls counted. */
function counting(): { suite: CipherSuite; hashes: () => number } {
  const inner = cipherSuiteById(1);
  let n = 0;
  const suite: CipherSuite = {
    ...inner,
    hash: (data) => {
      n++;
      return inner.hash(data);
    },
  };
  return { suite, hashes: () => n };
}

/** A tree of `n` members made of copies of one vector leaf with distinct encryption keys. */
function bigTree(n: number): RatchetTree {
  const [, leaf] = [...trees[0]!.leaves()][0]!;
  const tree = RatchetTree.single(leaf);
  for (let i = 1; i < n; i++) tree.addLeaf({ ...leaf, encryptionKey: new Uint8Array([i >> 8, i & 0xff]) });
  return tree;
}

describe('tree hash cache', () => {
  it('after a change hashes only the changed direct path again, and a clone hashes nothing', () => {
    const { suite, hashes } = counting();
    const tree = bigTree(2048);
    treeHash(suite, tree);
    expect(hashes()).toBe(tree.nodeCount);

    const copy = tree.clone();
    let before = hashes();
    treeHash(suite, copy);
    expect(hashes() - before).toBe(0);

    const [, leaf] = [...tree.leaves()][700]!;
    tree.updateLeaf(700, { ...leaf, encryptionKey: new Uint8Array([9, 9, 9]) });
    before = hashes();
    const after = treeHash(suite, tree);
    expect(hashes() - before).toBe(12); // the leaf and its 11 ancestors
    expect(toHex(after)).toBe(toHex(treeHash(cipherSuiteById(1), RatchetTree.fromBytes(tree.toBytes()))));
    // The clone still has the old tree and the old hash.
    expect(toHex(treeHash(suite, copy))).not.toBe(toHex(after));

    tree.removeLeaf(2047);
    before = hashes();
    treeHash(suite, tree);
    expect(hashes() - before).toBe(12);
  });

  it('can be seeded with stored hashes, so a decoded tree is not hashed again', () => {
    const { suite, hashes } = counting();
    const tree = trees[trees.length - 1]!;
    const stored = treeHashes(suite, tree);
    const loaded = RatchetTree.fromBytes(tree.toBytes());
    seedTreeHashes(suite, loaded, stored);
    const before = hashes();
    expect(toHex(treeHash(suite, loaded))).toBe(toHex(stored[tree.root]!));
    expect(hashes()).toBe(before);
    expect(() => seedTreeHashes(suite, loaded, stored.slice(1))).toThrow(MlsProtocolError);
  });

  it('matches a fresh computation after adds, updates, removes and truncation', () => {
    const suite = cipherSuiteById(1);
    for (const original of trees) {
      const tree = original.clone();
      treeHash(suite, tree);
      const leaves = [...tree.leaves()];
      const [first, firstNode] = leaves[0]!;
      tree.updateLeaf(first, { ...firstNode, signature: new Uint8Array([1]) });
      if (leaves.length > 2) tree.removeLeaf(leaves[leaves.length - 1]![0]);
      tree.addLeaf({ ...firstNode, encryptionKey: new Uint8Array([7, 7]) });
      const fresh = RatchetTree.fromBytes(tree.toBytes());
      expect(treeHashes(suite, tree).map(toHex)).toEqual(treeHashes(suite, fresh).map(toHex));
    }
  });
});

describe('parent hashes', () => {
  const suite = cipherSuiteById(1);

  it('original sibling tree hash blanks the unmerged leaves and drops them from unmerged lists', () => {
    let checked = 0;
    for (const tree of trees) {
      for (const [, pn] of tree.parents()) {
        if (pn.unmergedLeaves.length === 0) continue;
        const by = tree.clone();
        for (const l of pn.unmergedLeaves) by.setLeaf(l, undefined);
        for (const [q, qn] of by.parents()) {
          by.setParent(q, { ...qn, unmergedLeaves: qn.unmergedLeaves.filter((l) => !pn.unmergedLeaves.includes(l)) });
        }
        for (let x = 0; x < tree.nodeCount; x++) {
          expect(toHex(originalSiblingTreeHash(suite, tree, x, pn.unmergedLeaves))).toBe(toHex(treeHash(suite, by, x)));
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('every vector tree verifies; a changed parent hash or key in any parent node does not', () => {
    for (const tree of trees) {
      verifyParentHashes(suite, tree);
      for (const [p, pn] of tree.parents()) {
        const bad = tree.clone();
        bad.setParent(p, { ...pn, parentHash: new Uint8Array(pn.parentHash.length || 32).fill(1) });
        expect(() => verifyParentHashes(suite, bad)).toThrow(MlsProtocolError);
        const badKey = tree.clone();
        badKey.setParent(p, { ...pn, encryptionKey: pn.encryptionKey.map((b, i) => (i === 3 ? b ^ 1 : b)) });
        expect(() => verifyParentHashes(suite, badKey)).toThrow(/not parent-hash valid/);
      }
    }
  });
});
