import { decodeAll } from '../../codec/tls-codec';
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../test/support/mls-vectors';
import { isSupportedCipherSuite, cipherSuiteById } from './crypto/suites';
import { MlsProtocolError } from './errors';
import { RatchetTree } from './ratchet-tree';
import { ProposalType } from './structs/basics';
import { proposalCodec, type Proposal } from './structs/proposals';
import { LeafNodeSource, NodeType, type LeafNode, type Node, type ParentNode } from './structs/tree';
import { treeHash } from './tree-hash';

interface TreeOperationsVector {
  cipher_suite: number;
  tree_before: string;
  proposal: string;
  proposal_sender: number;
  tree_hash_before: string;
  tree_after: string;
  tree_hash_after: string;
}

function applyProposal(tree: RatchetTree, proposal: Proposal, sender: number): void {
  if ('add' in proposal) tree.addLeaf(proposal.add.keyPackage.leafNode);
  else if ('update' in proposal) tree.updateLeaf(sender, proposal.update.leafNode);
  else if ('remove' in proposal) tree.removeLeaf(proposal.remove.removed);
  else throw new Error(`unexpected proposal type ${proposal.proposalType}`);
}

describe('ratchet tree: tree-operations vectors', () => {
  const vectors = loadMlsVectors<TreeOperationsVector>('tree-operations');
  const tally = new VectorTally('tree-operations');
  afterAll(() => tally.report());

  it('applies each proposal to tree_before and gets tree_after and its tree hash', () => {
    const seen = new Set<number>();
    for (const v of vectors) {
      if (!isSupportedCipherSuite(v.cipher_suite)) {
        tally.skip(`cipher suite ${v.cipher_suite} not implemented`);
        continue;
      }
      const suite = cipherSuiteById(v.cipher_suite);
      const tree = RatchetTree.fromBytes(hex(v.tree_before));
      expect(toHex(tree.toBytes())).toBe(v.tree_before);
      expect(toHex(treeHash(suite, tree))).toBe(v.tree_hash_before);
      const before = tree.clone();
      const proposal = decodeAll(hex(v.proposal), proposalCodec);
      seen.add(proposal.proposalType);
      applyProposal(tree, proposal, v.proposal_sender);
      expect(toHex(tree.toBytes())).toBe(v.tree_after);
      // The cached hashes of the untouched parts are reused; the result equals a fresh tree's.
      expect(toHex(treeHash(suite, tree))).toBe(v.tree_hash_after);
      expect(toHex(treeHash(suite, RatchetTree.fromBytes(hex(v.tree_after))))).toBe(v.tree_hash_after);
      // The clone taken before is untouched.
      expect(toHex(before.toBytes())).toBe(v.tree_before);
      expect(toHex(treeHash(suite, before))).toBe(v.tree_hash_before);
      tally.pass();
    }
    expect([...seen].sort()).toEqual([ProposalType.add, ProposalType.update, ProposalType.remove].sort());
    expect(tally.passed).toBe(vectors.filter((v) => isSupportedCipherSuite(v.cipher_suite)).length);
  });
});

/** A syntactically fine LeafNode whose keys are made from `n` (no valid signature: shape tests only). */
function fakeLeaf(n: number): LeafNode {
  return {
    encryptionKey: new Uint8Array([1, n]),
    signatureKey: new Uint8Array([2, n]),
    credential: { credentialType: 1, identity: new Uint8Array([n]) },
    capabilities: { versions: [1], cipherSuites: [1], extensions: [], proposals: [], credentials: [1] },
    leafNodeSource: LeafNodeSource.update,
    extensions: [],
    signature: new Uint8Array([n]),
  };
}

function parentData(n: number, unmergedLeaves: number[] = []): ParentNode {
  return { encryptionKey: new Uint8Array([3, n]), parentHash: new Uint8Array(0), unmergedLeaves };
}

function parentNode(n: number, unmergedLeaves: number[] = []): Node {
  return { nodeType: NodeType.parent, parentNode: parentData(n, unmergedLeaves) };
}

function leafNode(n: number): Node {
  return { nodeType: NodeType.leaf, leafNode: fakeLeaf(n) };
}

describe('RatchetTree', () => {
  it('pads a received tree to full width and drops trailing blanks again', () => {
    const tree = RatchetTree.fromNodes([leafNode(0), parentNode(1), leafNode(2), undefined, leafNode(4)]);
    expect(tree.leafCount).toBe(4);
    expect(tree.nodeCount).toBe(7);
    expect(tree.root).toBe(3);
    expect(tree.toNodes()).toHaveLength(5);
  });

  it('keeps its credential-type and common-proposal-type summaries safe across changes and clones', () => {
    const withCaps = (n: number, credentialType: number, proposals: number[]): LeafNode => ({
      ...fakeLeaf(n),
      credential: { ...fakeLeaf(n).credential, credentialType } as LeafNode['credential'],
      capabilities: { ...fakeLeaf(n).capabilities, proposals, credentials: [1, 2] },
    });
    const tree = RatchetTree.single(withCaps(0, 1, [8, 10]));
    expect([...tree.credentialTypes()]).toEqual([1]);
    expect([...tree.commonProposalTypes()].sort()).toEqual([10, 8]);
    tree.addLeaf(withCaps(1, 1, [8]));
    expect([...tree.commonProposalTypes()]).toEqual([8]);
    const copy = tree.clone();
    tree.addLeaf(withCaps(2, 2, [8, 10]));
    expect([...tree.credentialTypes()].sort()).toEqual([1, 2]);
    // The clone does not see the original's later leaf.
    expect([...copy.credentialTypes()]).toEqual([1]);
    // After a removal the summaries may be stale, but only on the safe side: a superset of the
    // types in use, a subset of the types every leaf supports.
    tree.removeLeaf(1);
    expect(tree.credentialTypes().has(2)).toBe(true);
    expect([...tree.commonProposalTypes()]).toEqual([8]);
    // A tree built afresh from the same nodes computes them exactly.
    const fresh = RatchetTree.fromNodes(tree.toNodes());
    expect([...fresh.credentialTypes()].sort()).toEqual([1, 2]);
    expect([...fresh.commonProposalTypes()].sort()).toEqual([10, 8]);
  });

  it('rejects a badly shaped tree', () => {
    const bad: (Node | undefined)[][] = [
      [],
      [leafNode(0), undefined],
      [leafNode(0), undefined, undefined],
      [parentNode(0)],
    ];
    for (const nodes of bad) expect(() => RatchetTree.fromNodes(nodes)).toThrow(MlsProtocolError);
    expect(() => RatchetTree.fromNodes([leafNode(0), leafNode(1), leafNode(2)])).toThrow(/should be a parent/);
  });

  it('adds at the leftmost blank leaf, extends when full, and marks unmerged leaves', () => {
    const tree = RatchetTree.single(fakeLeaf(0));
    expect(tree.addLeaf(fakeLeaf(1))).toBe(1);
    expect(tree.leafCount).toBe(2);
    tree.setParent(1, parentData(1));
    expect(tree.addLeaf(fakeLeaf(2))).toBe(2);
    expect(tree.leafCount).toBe(4);
    // Leaf 2's direct path is 5 (blank) and 3 (the new, blank root): nothing to mark.
    expect(tree.parentNode(1)!.unmergedLeaves).toEqual([]);
    tree.setParent(3, parentData(3, [2]));
    expect(tree.addLeaf(fakeLeaf(3))).toBe(3);
    expect(tree.parentNode(3)!.unmergedLeaves).toEqual([2, 3]);
    tree.removeLeaf(1); // blanks nodes 1 and 3
    expect(tree.isBlank(3)).toBe(true);
    tree.setParent(3, parentData(3, [2, 3]));
    expect(tree.addLeaf(fakeLeaf(5))).toBe(1);
    expect(tree.parentNode(3)!.unmergedLeaves).toEqual([1, 2, 3]);
  });

  it('removes, blanking the direct path, and truncates the blank right half', () => {
    const tree = RatchetTree.fromNodes([
      leafNode(0),
      parentNode(1),
      leafNode(2),
      parentNode(3),
      leafNode(4),
      parentNode(5),
      leafNode(6),
    ]);
    tree.removeLeaf(3);
    expect(tree.leafCount).toBe(4);
    expect(tree.isBlank(5)).toBe(true);
    expect(tree.isBlank(3)).toBe(true);
    expect(tree.isBlank(1)).toBe(false);
    tree.removeLeaf(2);
    expect(tree.leafCount).toBe(2);
    expect(tree.nodeCount).toBe(3);
    expect(() => tree.removeLeaf(3)).toThrow(MlsProtocolError);
    tree.removeLeaf(1);
    expect(tree.leafCount).toBe(1);
  });

  it('computes resolutions, the filtered direct path and the copath (RFC 9420 §4.1.2 example)', () => {
    // Figure "A Complete Tree with Five Members": A B _ _ E F G _, T=1 and X=9 and Y=11 and W=7 set.
    const nodes: (Node | undefined)[] = new Array(15).fill(undefined);
    for (const leaf of [0, 1, 4, 5, 6]) nodes[2 * leaf] = leafNode(2 * leaf);
    for (const p of [1, 7, 9, 11]) nodes[p] = parentNode(p);
    const tree = RatchetTree.fromNodes(nodes.slice(0, 13));
    expect(tree.resolution(3)).toEqual([1]);
    expect(tree.resolution(5)).toEqual([]);
    expect(tree.resolution(13)).toEqual([12]);
    expect(tree.filteredDirectPath(0)).toEqual([1, 7]);
    expect(tree.filteredDirectPath(4)).toEqual([9, 11, 7]);
    expect(tree.filteredDirectPath(6)).toEqual([11, 7]);
    expect(tree.copath(0)).toEqual([2, 5, 11]);
    tree.setParent(9, parentData(9, [5]));
    expect(tree.resolution(11)).toEqual([11]);
    tree.setNode(11, undefined);
    expect(tree.resolution(11)).toEqual([9, 10, 12]);
    expect(tree.resolution(11, new Set([5]))).toEqual([9, 12]);
  });

  it('finds leaves by key and keeps the lookup current', () => {
    const tree = RatchetTree.fromNodes([leafNode(0), parentNode(1), leafNode(2)]);
    expect(tree.findLeafBySignatureKey(new Uint8Array([2, 2]))).toBe(1);
    expect(tree.findLeafByEncryptionKey(new Uint8Array([1, 0]))).toBe(0);
    expect(tree.findNodeByEncryptionKey(new Uint8Array([3, 1]))).toBe(1);
    expect(tree.findLeafByEncryptionKey(new Uint8Array([3, 1]))).toBeUndefined();
    const copy = tree.clone();
    tree.updateLeaf(1, fakeLeaf(7));
    expect(tree.findLeafBySignatureKey(new Uint8Array([2, 2]))).toBeUndefined();
    expect(tree.findLeafBySignatureKey(new Uint8Array([2, 7]))).toBe(1);
    expect(tree.findNodeByEncryptionKey(new Uint8Array([3, 1]))).toBeUndefined();
    expect(copy.findLeafBySignatureKey(new Uint8Array([2, 2]))).toBe(1);
    expect(copy.isBlank(1)).toBe(false);
  });
});
