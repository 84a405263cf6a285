/**
 * Tree hashes (RFC 9420 §7.8) and parent hashes (§7.9).
 *
 * Tree hashes are cached per node inside the `RatchetTree` (which forgets the hashes of a
 * changed node's direct path), so after a commit only the changed paths are hashed again.
 * Parent hashes are computed top-down along a filtered direct path when a path is set
 * (`setPathParentHashes`), and checked for a whole tree when joining (`verifyParentHashes`).
 */
import { writeTls } from '../../codec/tls-codec';
import type { CipherSuite } from './crypto/cipher-suite';
import { MlsProtocolError } from './errors';
import { bytesEqual } from './key-schedule';
import { isLeafUnder, nodeParentHash, type LeafIndex, type NodeIndex, type RatchetTree } from './ratchet-tree';
import { leafNodeCodec, NodeType, parentNodeCodec, type LeafNode, type ParentNode } from './structs/tree';
import { isLeaf, leafToNode, left, right } from './tree-math';

const EMPTY: Uint8Array = new Uint8Array(0);

export { bytesEqual };

// ---- §7.8 tree hash ---------------------------------------------------------------------------------

/** Hash(TreeHashInput) of a leaf: `LeafNodeHashInput { leaf_index, optional<LeafNode> }`. */
function leafHash(suite: CipherSuite, leaf: LeafIndex, leafNode: LeafNode | undefined): Uint8Array {
  return suite.hash(
    writeTls((w) => {
      w.uint8(NodeType.leaf);
      w.uint32(leaf);
      w.optional(leafNode, leafNodeCodec);
    }),
  );
}

/** Hash(TreeHashInput) of a parent: `ParentNodeHashInput { optional<ParentNode>, left_hash, right_hash }`. */
function parentTreeHash(
  suite: CipherSuite,
  parentNode: ParentNode | undefined,
  leftHash: Uint8Array,
  rightHash: Uint8Array,
): Uint8Array {
  return suite.hash(
    writeTls((w) => {
      w.uint8(NodeType.parent);
      w.optional(parentNode, parentNodeCodec);
      w.opaque(leftHash);
      w.opaque(rightHash);
    }),
  );
}

/** The tree hash of node x (default: the root, the GroupContext's `tree_hash`). Cached in the tree. */
export function treeHash(suite: CipherSuite, tree: RatchetTree, x: NodeIndex = tree.root): Uint8Array {
  const cached = tree.cachedHash(suite.id, x);
  if (cached) return cached;
  const h = isLeaf(x)
    ? leafHash(suite, x / 2, tree.leafNode(x / 2))
    : parentTreeHash(suite, tree.parentNode(x), treeHash(suite, tree, left(x)), treeHash(suite, tree, right(x)));
  tree.cacheHash(suite.id, x, h);
  return h;
}

/** The tree hash of every node, by node index. */
export function treeHashes(suite: CipherSuite, tree: RatchetTree): Uint8Array[] {
  treeHash(suite, tree);
  return Array.from({ length: tree.nodeCount }, (_, x) => treeHash(suite, tree, x));
}

/**
 * Put stored tree hashes (`treeHashes` of the same tree, e.g. kept beside the tree bytes in the
 * gateway's state) into a freshly decoded tree's cache, so that loading a large tree does not
 * hash it all again. The hashes are trusted: only pass ones this process computed and stored.
 */
export function seedTreeHashes(suite: CipherSuite, tree: RatchetTree, hashes: readonly Uint8Array[]): void {
  if (hashes.length !== tree.nodeCount) {
    throw new MlsProtocolError('invalid', `${hashes.length} stored tree hashes for a tree of ${tree.nodeCount} nodes`);
  }
  hashes.forEach((h, x) => tree.cacheHash(suite.id, x, h));
}

/**
 * The tree hash of node x in the tree with the leaves `removed` blanked and taken out of every
 * `unmerged_leaves` list (§7.9: `original_sibling_tree_hash`). Subtrees without such a leaf use
 * the cached tree hash, so only the paths to removed leaves are hashed again.
 */
export function originalSiblingTreeHash(
  suite: CipherSuite,
  tree: RatchetTree,
  x: NodeIndex,
  removed: readonly LeafIndex[],
): Uint8Array {
  const under = removed.filter((l) => isLeafUnder(l, x));
  if (under.length === 0) return treeHash(suite, tree, x);
  if (isLeaf(x)) return leafHash(suite, x / 2, undefined);
  const pn = tree.parentNode(x);
  const stripped = pn && { ...pn, unmergedLeaves: pn.unmergedLeaves.filter((l) => !under.includes(l)) };
  return parentTreeHash(
    suite,
    stripped,
    originalSiblingTreeHash(suite, tree, left(x), under),
    originalSiblingTreeHash(suite, tree, right(x), under),
  );
}

// ---- §7.9 parent hash -------------------------------------------------------------------------------

/** Hash(ParentHashInput { encryption_key, parent_hash, original_sibling_tree_hash }). */
function parentHash(
  suite: CipherSuite,
  encryptionKey: Uint8Array,
  parentHashAbove: Uint8Array,
  originalSiblingHash: Uint8Array,
): Uint8Array {
  return suite.hash(
    writeTls((w) => {
      w.opaque(encryptionKey);
      w.opaque(parentHashAbove);
      w.opaque(originalSiblingHash);
    }),
  );
}

/** The parent hash of parent node p "with copath child" s (§7.9): what the node below p on the path carries. */
function parentHashOf(suite: CipherSuite, tree: RatchetTree, p: NodeIndex, s: NodeIndex): Uint8Array {
  const pn = tree.parentNode(p);
  if (!pn) throw new MlsProtocolError('invalid', `parent hash of blank node ${p}`);
  return parentHash(suite, pn.encryptionKey, pn.parentHash, originalSiblingTreeHash(suite, tree, s, pn.unmergedLeaves));
}

/**
 * Set the `parent_hash` of every node on the filtered direct path of `leaf`, root first (§7.9:
 * the root's is empty, each other's is the parent hash of the next node up), and return the
 * parent hash the leaf's LeafNode must carry (empty when the filtered direct path is).
 * The nodes of the path must already hold their new keys.
 */
export function setPathParentHashes(suite: CipherSuite, tree: RatchetTree, leaf: LeafIndex): Uint8Array {
  const path = tree.filteredDirectPathWithCopath(leaf);
  let above = EMPTY;
  for (let i = path.length - 1; i >= 0; i--) {
    const { node, copathChild } = path[i]!;
    const pn = tree.parentNode(node);
    if (!pn) throw new MlsProtocolError('invalid', `node ${node} on the filtered direct path of leaf ${leaf} is blank`);
    if (!bytesEqual(pn.parentHash, above)) tree.setParent(node, { ...pn, parentHash: above });
    above = parentHash(
      suite,
      pn.encryptionKey,
      above,
      originalSiblingTreeHash(suite, tree, copathChild, pn.unmergedLeaves),
    );
  }
  return above;
}

/**
 * Whether node d's `parent_hash` is valid with respect to parent node p (§7.9.2): d lies in
 * the resolution of p's child c, p's unmerged leaves under c are exactly the rest of that
 * resolution, and d carries the parent hash of p with copath child s (c's sibling).
 */
function validChildOf(suite: CipherSuite, tree: RatchetTree, p: NodeIndex, pn: ParentNode): NodeIndex[] {
  const found: NodeIndex[] = [];
  for (const [c, s] of [
    [left(p), right(p)],
    [right(p), left(p)],
  ] as const) {
    const unmergedUnderC = new Set(pn.unmergedLeaves.filter((l) => isLeafUnder(l, c)).map(leafToNode));
    const res = tree.resolution(c);
    if (res.length !== unmergedUnderC.size + 1) continue;
    const rest = res.filter((d) => !unmergedUnderC.has(d));
    if (rest.length !== 1) continue;
    const d = rest[0]!;
    const carried = nodeParentHash(tree.node(d)!);
    if (carried && bytesEqual(carried, parentHashOf(suite, tree, p, s))) found.push(d);
  }
  return found;
}

/**
 * §7.9.2, top down: every non-blank parent node must have exactly one descendant whose parent
 * hash is valid with respect to it (so each chains down to a leaf). MlsProtocolError('invalid').
 */
export function verifyParentHashes(suite: CipherSuite, tree: RatchetTree): void {
  for (const [p, pn] of tree.parents()) {
    const found = validChildOf(suite, tree, p, pn);
    if (found.length !== 1) {
      throw new MlsProtocolError(
        'invalid',
        `parent node ${p} is not parent-hash valid (${found.length} descendants carry its parent hash)`,
      );
    }
  }
}
