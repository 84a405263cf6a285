/**
 * Validating a ratchet tree received from elsewhere (RFC 9420 §12.4.3.1 "Verify the integrity
 * of the ratchet tree"), limited to what the tree itself can tell:
 *  - the tree hash, when the caller knows the expected one (GroupInfo's `tree_hash`);
 *  - every non-blank parent node is parent-hash valid (§7.9.2);
 *  - each leaf passes the tree-local checks of §7.3: its signature over LeafNodeTBS (with
 *    group_id and leaf_index unless its source is key_package), its non-default extensions and
 *    its credential type listed in its capabilities, every credential type in use supported by
 *    every member;
 *  - encryption keys unique among all nodes, signature keys unique among leaves;
 *  - `unmerged_leaves` sorted, each a non-blank leaf below the node, and listed by every
 *    non-blank node between that leaf and the node.
 * Checks that need the group context (required_capabilities, lifetimes, credential validation
 * by the application) are the caller's. Every failure is an MlsProtocolError.
 */
import { encodeValue } from '../../codec/tls-codec';
import type { CipherSuite } from './crypto/cipher-suite';
import { verifyWithLabel } from './crypto/labeled';
import { MlsProtocolError } from './errors';
import { isLeafUnder, keyId, nodeEncryptionKey, type LeafIndex, type RatchetTree } from './ratchet-tree';
import { ExtensionType } from './structs/basics';
import { leafNodeData, leafNodeTbsCodec, LeafNodeSource, NodeType, type LeafNode } from './structs/tree';
import { bytesEqual, treeHash, verifyParentHashes } from './tree-hash';
import { leafToNode } from './tree-math';

/** Extension types that are "default" (§7.2) and so never listed in capabilities. */
const DEFAULT_EXTENSIONS: ReadonlySet<number> = new Set([
  ExtensionType.application_id,
  ExtensionType.ratchet_tree,
  ExtensionType.required_capabilities,
  ExtensionType.external_pub,
  ExtensionType.external_senders,
]);

/**
 * Whether the LeafNode's signature verifies (§7.2): over LeafNodeTBS with `group_id` and
 * `leaf_index` for the `update` and `commit` sources, without them for `key_package`.
 */
export function verifyLeafNodeSignature(
  suite: CipherSuite,
  leafNode: LeafNode,
  groupId: Uint8Array,
  leafIndex: LeafIndex,
): boolean {
  const binding = leafNode.leafNodeSource === LeafNodeSource.key_package ? undefined : { groupId, leafIndex };
  const tbs = encodeValue({ leafNode: leafNodeData(leafNode), binding }, leafNodeTbsCodec);
  return verifyWithLabel(suite, leafNode.signatureKey, 'LeafNodeTBS', tbs, leafNode.signature);
}

/**
 * The tree-local checks of §7.3 on one leaf, without the uniqueness of its keys: signature,
 * extensions and credential type listed in its own capabilities.
 */
export function checkLeafNode(suite: CipherSuite, leafNode: LeafNode, groupId: Uint8Array, leafIndex: LeafIndex): void {
  if (!verifyLeafNodeSignature(suite, leafNode, groupId, leafIndex)) {
    throw new MlsProtocolError('badSignature', `leaf ${leafIndex}: LeafNode signature does not verify`);
  }
  const caps = leafNode.capabilities;
  for (const e of leafNode.extensions) {
    if (!DEFAULT_EXTENSIONS.has(e.extensionType) && !caps.extensions.includes(e.extensionType)) {
      throw new MlsProtocolError('invalid', `leaf ${leafIndex}: extension ${e.extensionType} not in its capabilities`);
    }
  }
  if (!caps.credentials.includes(leafNode.credential.credentialType)) {
    throw new MlsProtocolError(
      'invalid',
      `leaf ${leafIndex}: credential type ${leafNode.credential.credentialType} not in its capabilities`,
    );
  }
}

export interface TreeValidationOptions {
  /** The group's id: the context of `update` and `commit` leaf signatures. */
  groupId: Uint8Array;
  /** When given, the root tree hash must equal it (GroupInfo's `group_context.tree_hash`). */
  treeHash?: Uint8Array;
}

/** Validate a received ratchet tree as a joiner must (§12.4.3.1); throws MlsProtocolError. */
export function validateRatchetTree(suite: CipherSuite, tree: RatchetTree, options: TreeValidationOptions): void {
  if (options.treeHash && !bytesEqual(treeHash(suite, tree), options.treeHash)) {
    throw new MlsProtocolError('invalid', 'ratchet tree: tree hash does not match');
  }
  checkLeaves(suite, tree, options.groupId);
  checkUniqueKeys(tree);
  checkUnmergedLeaves(tree);
  verifyParentHashes(suite, tree);
}

function checkLeaves(suite: CipherSuite, tree: RatchetTree, groupId: Uint8Array): void {
  const inUse = new Set<number>();
  let members = 0;
  for (const [leaf, leafNode] of tree.leaves()) {
    checkLeafNode(suite, leafNode, groupId, leaf);
    inUse.add(leafNode.credential.credentialType);
    members++;
  }
  if (members === 0) throw new MlsProtocolError('invalid', 'ratchet tree: no members');
  for (const [leaf, leafNode] of tree.leaves()) {
    for (const t of inUse) {
      if (!leafNode.capabilities.credentials.includes(t)) {
        throw new MlsProtocolError('invalid', `leaf ${leaf}: does not support credential type ${t} used in the group`);
      }
    }
  }
}

function checkUniqueKeys(tree: RatchetTree): void {
  const seenEncryption = new Map<string, number>();
  const seenSignature = new Map<string, number>();
  for (let x = 0; x < tree.nodeCount; x++) {
    const n = tree.node(x);
    if (!n) continue;
    const enc = keyId(nodeEncryptionKey(n));
    const other = seenEncryption.get(enc);
    if (other !== undefined) {
      throw new MlsProtocolError('invalid', `ratchet tree: nodes ${other} and ${x} have the same encryption key`);
    }
    seenEncryption.set(enc, x);
    if (n.nodeType === NodeType.leaf) {
      const sig = keyId(n.leafNode.signatureKey);
      const otherLeaf = seenSignature.get(sig);
      if (otherLeaf !== undefined) {
        throw new MlsProtocolError(
          'invalid',
          `ratchet tree: leaves ${otherLeaf} and ${x / 2} have the same signature key`,
        );
      }
      seenSignature.set(sig, x / 2);
    }
  }
}

function checkUnmergedLeaves(tree: RatchetTree): void {
  for (const [p, pn] of tree.parents()) {
    if (pn.unmergedLeaves.some((leaf, i) => i > 0 && leaf <= pn.unmergedLeaves[i - 1]!)) {
      throw new MlsProtocolError('invalid', `node ${p}: unmerged_leaves not strictly increasing`);
    }
    for (const leaf of pn.unmergedLeaves) {
      if (!isLeafUnder(leaf, p) || tree.leafNode(leaf) === undefined) {
        throw new MlsProtocolError('invalid', `node ${p}: unmerged leaf ${leaf} is not a non-blank leaf below it`);
      }
      for (const q of tree.directPath(leafToNode(leaf))) {
        if (q === p) break;
        const qn = tree.parentNode(q);
        if (qn && !qn.unmergedLeaves.includes(leaf)) {
          throw new MlsProtocolError('invalid', `node ${q}: lacks unmerged leaf ${leaf} that its ancestor ${p} lists`);
        }
      }
    }
  }
}
