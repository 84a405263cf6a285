/**
 * TreeKEM (RFC 9420 §7.4–7.6, §12.4.1–12.4.2, §12.4.3.1): creating an UpdatePath, merging a
 * received one into the public tree, decrypting its path secrets, and the joiner's path secret.
 *
 * Gateway design: one gateway speaks for many members of a group, so the private side is not
 * one member's view but `PrivateTreeKeys`, every HPKE key pair any local member holds, by node
 * index. A commit is then decrypted once per group: the lowest node of the committer's filtered
 * direct path whose copath resolution holds a key we have is opened (one HPKE decryption), and
 * every path secret above it is derived. Since that node is an ancestor of a local member, so
 * is every node above it: all the derived keys are ones local members are entitled to.
 *
 * Path secrets: leaf_secret is random; path_secret[0] = DeriveSecret(leaf_secret, "path") for
 * the first node of the filtered direct path, path_secret[n+1] = DeriveSecret(path_secret[n],
 * "path"); commit_secret is the one after the root's. A node's key pair is
 * DeriveKeyPair(DeriveSecret(path_secret, "node")), the leaf's from leaf_secret the same way.
 */
import { encodeValue } from '../../codec/tls-codec';
import type { CipherSuite, KeyPair } from './crypto/cipher-suite';
import { decryptWithLabel, deriveSecret, encryptWithLabelToEach, signWithLabel } from './crypto/labeled';
import { MlsProtocolError } from './errors';
import { keyId, nodeEncryptionKey, type LeafIndex, type NodeIndex, type RatchetTree } from './ratchet-tree';
import { groupContextCodec, type GroupContext } from './structs/group-context';
import {
  leafNodeTbsCodec,
  LeafNodeSource,
  type LeafNode,
  type LeafNodeData,
  type UpdatePath,
  type UpdatePathNode,
} from './structs/tree';
import { bytesEqual, setPathParentHashes, treeHash } from './tree-hash';
import { commonAncestor, leafToNode } from './tree-math';
import { checkLeafNode } from './tree-validation';

/** HPKE key pairs local members hold, by node index (leaves at 2 * leaf index). */
export type PrivateTreeKeys = ReadonlyMap<NodeIndex, KeyPair>;

/** What a path (or a joiner's path secret) yields: the secrets and key pairs of its nodes. */
export interface PathSecrets {
  /** Path secret per node of the committer's filtered direct path (from the decrypted node up). */
  pathSecrets: Map<NodeIndex, Uint8Array>;
  /** Key pair per such node (and, for the committer, its new leaf). */
  privateKeys: Map<NodeIndex, KeyPair>;
}

interface UpdatePathSecrets extends PathSecrets {
  /** The `commit_secret` for the key schedule (§8). */
  commitSecret: Uint8Array;
}

const UPDATE_PATH_NODE = 'UpdatePathNode';

/** DeriveKeyPair(DeriveSecret(path_secret, "node")) (§7.4). */
export function nodeKeyPair(suite: CipherSuite, pathSecret: Uint8Array): KeyPair {
  return suite.hpkeDeriveKeyPair(deriveSecret(suite, pathSecret, 'node'));
}

/** path_secret[n+1] = DeriveSecret(path_secret[n], "path") (§7.4). */
function nextPathSecret(suite: CipherSuite, pathSecret: Uint8Array): Uint8Array {
  return deriveSecret(suite, pathSecret, 'path');
}

/** The LeafNode fields a committer chooses; key, source, parent hash and signature are filled in. */
export type CommitLeafFields = Pick<LeafNodeData, 'signatureKey' | 'credential' | 'capabilities' | 'extensions'>;

export interface CreateUpdatePathInput {
  suite: CipherSuite;
  /** The provisional tree (proposals applied). The new path is merged into it in place. */
  tree: RatchetTree;
  /** The committer's leaf (for an external commit: `tree.leftmostBlankLeaf()`). */
  leaf: LeafIndex;
  leafFields: CommitLeafFields;
  signaturePrivateKey: Uint8Array;
  /** The provisional GroupContext (§12.4.1) except its tree hash, which is computed here. */
  groupContext: Omit<GroupContext, 'treeHash'>;
  /** Leaves added by this commit: left out of the resolutions encrypted to (§7.6). */
  excludedLeaves?: readonly LeafIndex[];
  /** Tests only: a fixed leaf_secret instead of a random one. */
  leafSecret?: Uint8Array;
}

export interface CreatedUpdatePath extends UpdatePathSecrets {
  updatePath: UpdatePath;
  /** The provisional GroupContext with the new tree hash: the HPKE context used. */
  groupContext: GroupContext;
}

/**
 * Make an UpdatePath for `leaf` (§7.4–7.6, §12.4.1): fresh leaf key pair and path secrets,
 * merged into `tree` with parent hashes and a signed `commit` LeafNode, each path secret
 * encrypted to the resolution of its copath child minus `excludedLeaves`.
 */
export function createUpdatePath(input: CreateUpdatePathInput): CreatedUpdatePath {
  const { suite, tree, leaf } = input;
  const path = tree.filteredDirectPathWithCopath(leaf);
  const leafSecret = input.leafSecret ?? suite.randomBytes(suite.hashLength);
  const leafKeys = nodeKeyPair(suite, leafSecret);
  const pathSecrets = new Map<NodeIndex, Uint8Array>();
  const privateKeys = new Map<NodeIndex, KeyPair>([[leafToNode(leaf), leafKeys]]);
  let secret = leafSecret;
  for (const { node } of path) {
    secret = nextPathSecret(suite, secret);
    pathSecrets.set(node, secret);
    privateKeys.set(node, nodeKeyPair(suite, secret));
  }
  const commitSecret = nextPathSecret(suite, secret);

  tree.blankDirectPath(leaf);
  for (const { node } of path) {
    tree.setParent(node, {
      encryptionKey: privateKeys.get(node)!.publicKey,
      parentHash: new Uint8Array(0),
      unmergedLeaves: [],
    });
  }
  const parentHash = setPathParentHashes(suite, tree, leaf);
  const { signatureKey, credential, capabilities, extensions } = input.leafFields;
  const data: LeafNodeData = {
    encryptionKey: leafKeys.publicKey,
    signatureKey,
    credential,
    capabilities,
    leafNodeSource: LeafNodeSource.commit,
    parentHash,
    extensions,
  };
  const tbs = encodeValue(
    { leafNode: data, binding: { groupId: input.groupContext.groupId, leafIndex: leaf } },
    leafNodeTbsCodec,
  );
  const leafNode: LeafNode = {
    ...data,
    signature: signWithLabel(suite, input.signaturePrivateKey, 'LeafNodeTBS', tbs),
  };
  tree.setLeaf(leaf, leafNode);

  const groupContext: GroupContext = { ...input.groupContext, treeHash: treeHash(suite, tree) };
  const context = encodeValue(groupContext, groupContextCodec);
  const excluded = new Set(input.excludedLeaves ?? []);
  const nodes: UpdatePathNode[] = path.map(({ node, copathChild }) => ({
    encryptionKey: privateKeys.get(node)!.publicKey,
    encryptedPathSecret: encryptWithLabelToEach(
      suite,
      tree.resolution(copathChild, excluded).map((r) => nodeEncryptionKey(tree.node(r)!)),
      UPDATE_PATH_NODE,
      context,
      pathSecrets.get(node)!,
    ).map(({ kemOutput, ciphertext }) => ({ kemOutput, ciphertext })),
  }));
  return { updatePath: { leafNode, nodes }, groupContext, commitSecret, pathSecrets, privateKeys };
}

/**
 * Merge a received UpdatePath from `leaf` into the provisional tree, in place (§7.5, §12.4.2):
 * checks the new LeafNode (source `commit`, signature, capabilities), that no key of the path
 * is already in the tree, and that the leaf's parent hash matches the merged path. On failure
 * the tree may be half-merged: callers work on a provisional clone anyway.
 */
export function mergeUpdatePath(
  suite: CipherSuite,
  tree: RatchetTree,
  leaf: LeafIndex,
  updatePath: UpdatePath,
  groupId: Uint8Array,
): void {
  const path = tree.filteredDirectPathWithCopath(leaf);
  const { leafNode, nodes } = updatePath;
  if (nodes.length !== path.length) {
    throw new MlsProtocolError(
      'invalid',
      `UpdatePath has ${nodes.length} nodes, the filtered direct path of leaf ${leaf} has ${path.length}`,
    );
  }
  if (leafNode.leafNodeSource !== LeafNodeSource.commit) {
    throw new MlsProtocolError('invalid', 'UpdatePath leaf_node_source is not commit');
  }
  checkLeafNode(suite, leafNode, groupId, leaf);
  const signer = tree.findLeafBySignatureKey(leafNode.signatureKey);
  if (signer !== undefined && signer !== leaf) {
    throw new MlsProtocolError('invalid', `UpdatePath signature key is leaf ${signer}'s`);
  }
  const fresh = new Set<string>();
  for (const key of [leafNode.encryptionKey, ...nodes.map((n) => n.encryptionKey)]) {
    const id = keyId(key);
    if (fresh.has(id) || tree.findNodeByEncryptionKey(key) !== undefined) {
      throw new MlsProtocolError('invalid', 'UpdatePath encryption key already in the tree or repeated');
    }
    fresh.add(id);
  }

  tree.blankDirectPath(leaf);
  path.forEach(({ node }, i) => {
    tree.setParent(node, { encryptionKey: nodes[i]!.encryptionKey, parentHash: new Uint8Array(0), unmergedLeaves: [] });
  });
  const expected = setPathParentHashes(suite, tree, leaf);
  if (!bytesEqual(expected, leafNode.parentHash)) {
    throw new MlsProtocolError('invalid', `UpdatePath leaf parent_hash does not match the path (leaf ${leaf})`);
  }
  tree.setLeaf(leaf, leafNode);
}

export interface DecryptUpdatePathInput {
  suite: CipherSuite;
  /** The provisional tree with `updatePath` already merged (`mergeUpdatePath`). */
  tree: RatchetTree;
  /** The committer's leaf. */
  leaf: LeafIndex;
  updatePath: UpdatePath;
  /** Every key pair local members hold; entries whose public key is not the node's are ignored. */
  privateKeys: PrivateTreeKeys;
  /** The provisional GroupContext, tree hash after the merge. */
  groupContext: GroupContext;
  /** Leaves added by this commit (their ciphertexts are absent). */
  excludedLeaves?: readonly LeafIndex[];
}

export interface DecryptedUpdatePath extends UpdatePathSecrets {
  /** The node whose path secret was decrypted; `pathSecrets` holds it and the nodes above. */
  decryptedAt: NodeIndex;
}

/**
 * Decrypt an UpdatePath once for all local members (§7.5, §12.4.2): the lowest filtered-direct-
 * path node whose copath resolution holds a node in `privateKeys` is opened, the path secrets
 * above it derived and their public keys checked against the path. MlsProtocolError 'notFound'
 * when no held key is in any resolution, 'decryptFailed' when HPKE fails, 'invalid' for a
 * ciphertext count or public key that does not match.
 */
export function decryptUpdatePath(input: DecryptUpdatePathInput): DecryptedUpdatePath {
  const { suite, tree, leaf, updatePath, privateKeys } = input;
  const path = tree.filteredDirectPathWithCopath(leaf);
  if (updatePath.nodes.length !== path.length) {
    throw new MlsProtocolError('invalid', `UpdatePath has ${updatePath.nodes.length} nodes, expected ${path.length}`);
  }
  const excluded = new Set(input.excludedLeaves ?? []);
  let found: { at: number; key: KeyPair; ciphertext: UpdatePathNode['encryptedPathSecret'][number] } | undefined;
  path.forEach(({ node, copathChild }, i) => {
    const resolution = tree.resolution(copathChild, excluded);
    const ciphertexts = updatePath.nodes[i]!.encryptedPathSecret;
    if (ciphertexts.length !== resolution.length) {
      throw new MlsProtocolError(
        'invalid',
        `UpdatePath node ${node}: ${ciphertexts.length} ciphertexts for a resolution of ${resolution.length}`,
      );
    }
    if (found) return;
    resolution.forEach((r, j) => {
      const key = privateKeys.get(r);
      if (!found && key && bytesEqual(key.publicKey, nodeEncryptionKey(tree.node(r)!))) {
        found = { at: i, key, ciphertext: ciphertexts[j]! };
      }
    });
  });
  if (!found) {
    throw new MlsProtocolError('notFound', `no local key in the resolutions of leaf ${leaf}'s update path`);
  }
  const context = encodeValue(input.groupContext, groupContextCodec);
  let secret: Uint8Array;
  try {
    secret = decryptWithLabel(
      suite,
      found.key.privateKey,
      UPDATE_PATH_NODE,
      context,
      found.ciphertext.kemOutput,
      found.ciphertext.ciphertext,
    );
  } catch (cause) {
    throw new MlsProtocolError(
      'decryptFailed',
      `UpdatePath: path secret of node ${path[found.at]!.node} does not decrypt`,
      {
        cause,
      },
    );
  }
  const derived = deriveUp(
    suite,
    path.slice(found.at).map((e, k) => ({ node: e.node, publicKey: updatePath.nodes[found!.at + k]!.encryptionKey })),
    secret,
  );
  return { ...derived, decryptedAt: path[found.at]!.node };
}

/** From the path secret of nodes[0], derive each node's secret and key pair, checking the public keys. */
function deriveUp(
  suite: CipherSuite,
  nodes: readonly { node: NodeIndex; publicKey: Uint8Array }[],
  first: Uint8Array,
): UpdatePathSecrets {
  const pathSecrets = new Map<NodeIndex, Uint8Array>();
  const privateKeys = new Map<NodeIndex, KeyPair>();
  let secret = first;
  nodes.forEach(({ node, publicKey }, k) => {
    if (k > 0) secret = nextPathSecret(suite, secret);
    const keys = nodeKeyPair(suite, secret);
    if (!bytesEqual(keys.publicKey, publicKey)) {
      throw new MlsProtocolError('invalid', `derived public key of node ${node} does not match the tree`);
    }
    pathSecrets.set(node, secret);
    privateKeys.set(node, keys);
  });
  return { pathSecrets, privateKeys, commitSecret: nextPathSecret(suite, secret) };
}

// ---- joiners (§12.4.3.1) -------------------------------------------------------------------------

/**
 * `GroupSecrets.path_secret` for a member added at `joiner` by a commit with a path from
 * `committer`: the path secret of their lowest common ancestor, from `createUpdatePath`'s
 * `pathSecrets` (always on the committer's filtered direct path: the joiner is in its copath
 * child's resolution).
 */
export function pathSecretForJoiner(
  committer: LeafIndex,
  joiner: LeafIndex,
  pathSecrets: ReadonlyMap<NodeIndex, Uint8Array>,
): Uint8Array {
  const ancestor = commonAncestor(leafToNode(committer), leafToNode(joiner));
  const secret = pathSecrets.get(ancestor);
  if (!secret) throw new MlsProtocolError('notFound', `no path secret for node ${ancestor}`);
  return secret;
}

/**
 * A joiner's key pairs from `GroupSecrets.path_secret` (§12.4.3.1): the common ancestor of
 * joiner and committer (`signer`), then each node above it on the committer's filtered direct
 * path; every derived public key must be the tree's. The joiner's own leaf key comes from its
 * KeyPackage, not from here.
 */
export function joinerPathKeys(
  suite: CipherSuite,
  tree: RatchetTree,
  committer: LeafIndex,
  joiner: LeafIndex,
  pathSecret: Uint8Array,
): PathSecrets {
  const ancestor = commonAncestor(leafToNode(committer), leafToNode(joiner));
  const path = tree.filteredDirectPath(committer);
  const from = path.indexOf(ancestor);
  if (from < 0) {
    throw new MlsProtocolError('invalid', `node ${ancestor} is not on leaf ${committer}'s filtered direct path`);
  }
  const nodes = path.slice(from).map((node) => {
    const n = tree.node(node);
    if (!n) throw new MlsProtocolError('invalid', `node ${node} on the committer's path is blank`);
    return { node, publicKey: nodeEncryptionKey(n) };
  });
  const { pathSecrets, privateKeys } = deriveUp(suite, nodes, pathSecret);
  return { pathSecrets, privateKeys };
}

// ---- keeping PrivateTreeKeys in step with the tree -------------------------------------------------

/**
 * `keys` plus `added`, keeping only entries whose node is non-blank and has that public key: after
 * proposals (blanked paths, removed leaves, truncation) and a merged path, what is left is what
 * the local members still hold. The result is a new map.
 */
export function reconcilePrivateKeys(
  tree: RatchetTree,
  keys: PrivateTreeKeys,
  added?: ReadonlyMap<NodeIndex, KeyPair>,
): Map<NodeIndex, KeyPair> {
  const out = new Map<NodeIndex, KeyPair>();
  for (const source of [keys, added ?? new Map<NodeIndex, KeyPair>()]) {
    for (const [x, kp] of source) {
      const n = x < tree.nodeCount ? tree.node(x) : undefined;
      if (n && samePublicKey(nodeEncryptionKey(n), kp.publicKey)) out.set(x, kp);
    }
  }
  return out;
}

/** Public keys compared without the constant-time compare secrets need (many per commit). */
function samePublicKey(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || (a.length === b.length && Buffer.compare(a, b) === 0);
}
