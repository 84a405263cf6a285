/**
 * RFC 9420 ratchet-tree structs: LeafNode and LeafNodeTBS (§7.2), ParentNode (§7.1), Node and the
 * ratchet tree `optional<Node> ratchet_tree<V>` (§7.8, §12.4.3.3), UpdatePathNode and UpdatePath
 * (§7.6), KeyPackage and KeyPackageTBS (§10).
 */
import {
  codec,
  encodeValue,
  opaque,
  optionalOf,
  uint32,
  vectorOf,
  type Codec,
  type TlsReader,
  type TlsWriter,
} from '../../../codec/tls-codec';
import {
  capabilitiesCodec,
  cipherSuiteCodec,
  credentialCodec,
  extensionsCodec,
  hpkeCiphertextCodec,
  hpkePublicKeyCodec,
  lifetimeCodec,
  numericEnum,
  protocolVersionCodec,
  signaturePublicKeyCodec,
  signedCodec,
  type Capabilities,
  type CipherSuite,
  type Credential,
  type Extension,
  type HPKECiphertext,
  type Lifetime,
  type ProtocolVersion,
} from './basics';

// ---- LeafNode --------------------------------------------------------------------------------

/** §7.2 LeafNodeSource. */
export const LeafNodeSource = { key_package: 1, update: 2, commit: 3 } as const;
export type LeafNodeSource = (typeof LeafNodeSource)[keyof typeof LeafNodeSource];
const leafNodeSourceCodec = numericEnum('LeafNodeSource', LeafNodeSource);

/** The `select (leaf_node_source)` part of a LeafNode. */
type LeafNodeSourceFields =
  | { leafNodeSource: typeof LeafNodeSource.key_package; lifetime: Lifetime }
  | { leafNodeSource: typeof LeafNodeSource.update }
  | { leafNodeSource: typeof LeafNodeSource.commit; parentHash: Uint8Array };

/** Every LeafNode field except the signature (what LeafNodeTBS covers, without its context). */
export type LeafNodeData = {
  encryptionKey: Uint8Array;
  signatureKey: Uint8Array;
  credential: Credential;
  capabilities: Capabilities;
  extensions: Extension[];
} & LeafNodeSourceFields;

/** §7.2 LeafNode. */
export type LeafNode = LeafNodeData & { signature: Uint8Array };

function encodeLeafNodeData(w: TlsWriter, v: LeafNodeData): void {
  w.field('encryption_key', hpkePublicKeyCodec, v.encryptionKey);
  w.field('signature_key', signaturePublicKeyCodec, v.signatureKey);
  w.field('credential', credentialCodec, v.credential);
  w.field('capabilities', capabilitiesCodec, v.capabilities);
  w.field('leaf_node_source', leafNodeSourceCodec, v.leafNodeSource);
  switch (v.leafNodeSource) {
    case LeafNodeSource.key_package:
      w.field('lifetime', lifetimeCodec, v.lifetime);
      break;
    case LeafNodeSource.update:
      break;
    case LeafNodeSource.commit:
      w.field('parent_hash', opaque, v.parentHash);
      break;
  }
  w.field('extensions', extensionsCodec, v.extensions);
}

function decodeLeafNodeData(r: TlsReader): LeafNodeData {
  const encryptionKey = r.field('encryption_key', hpkePublicKeyCodec);
  const signatureKey = r.field('signature_key', signaturePublicKeyCodec);
  const credential = r.field('credential', credentialCodec);
  const capabilities = r.field('capabilities', capabilitiesCodec);
  const leafNodeSource = r.field('leaf_node_source', leafNodeSourceCodec);
  let source: LeafNodeSourceFields;
  switch (leafNodeSource) {
    case LeafNodeSource.key_package:
      source = { leafNodeSource, lifetime: r.field('lifetime', lifetimeCodec) };
      break;
    case LeafNodeSource.update:
      source = { leafNodeSource };
      break;
    case LeafNodeSource.commit:
      source = { leafNodeSource, parentHash: r.field('parent_hash', opaque) };
      break;
  }
  const extensions = r.field('extensions', extensionsCodec);
  return { encryptionKey, signatureKey, credential, capabilities, ...source, extensions };
}

export const leafNodeCodec: Codec<LeafNode> = signedCodec(
  'LeafNode',
  codec('LeafNodeData', encodeLeafNodeData, decodeLeafNodeData),
);

/** The group context a LeafNodeTBS carries for the `update` and `commit` sources. */
interface LeafNodeGroupBinding {
  groupId: Uint8Array;
  leafIndex: number;
}

/**
 * §7.2 LeafNodeTBS: the leaf node without its signature, plus `group_id` and `leaf_index` when
 * the source is `update` or `commit` (required then, forbidden for `key_package`).
 */
export interface LeafNodeTBS {
  leafNode: LeafNodeData;
  binding?: LeafNodeGroupBinding;
}
export const leafNodeTbsCodec = codec<LeafNodeTBS>(
  'LeafNodeTBS',
  (w, v) => {
    encodeLeafNodeData(w, v.leafNode);
    const bound = v.leafNode.leafNodeSource !== LeafNodeSource.key_package;
    if (bound !== (v.binding !== undefined)) {
      w.fail(
        `group_id/leaf_index ${bound ? 'required' : 'not allowed'} for leaf_node_source ${v.leafNode.leafNodeSource}`,
      );
    }
    if (v.binding) {
      w.field('group_id', opaque, v.binding.groupId);
      w.field('leaf_index', uint32, v.binding.leafIndex);
    }
  },
  (r) => {
    const leafNode = decodeLeafNodeData(r);
    if (leafNode.leafNodeSource === LeafNodeSource.key_package) return { leafNode };
    return { leafNode, binding: { groupId: r.field('group_id', opaque), leafIndex: r.field('leaf_index', uint32) } };
  },
);

/** Drop the signature of a LeafNode (keeps the source-specific fields). */
export function leafNodeData(leaf: LeafNode): LeafNodeData {
  const { signature: _signature, ...data } = leaf;
  return data;
}

// ---- ParentNode, Node, ratchet tree --------------------------------------------------------------

/** §7.1 ParentNode. `unmergedLeaves` are leaf indices, increasing. */
export interface ParentNode {
  encryptionKey: Uint8Array;
  parentHash: Uint8Array;
  unmergedLeaves: number[];
}
const unmergedLeavesCodec = vectorOf(uint32);
export const parentNodeCodec = codec<ParentNode>(
  'ParentNode',
  (w, v) => {
    w.field('encryption_key', hpkePublicKeyCodec, v.encryptionKey);
    w.field('parent_hash', opaque, v.parentHash);
    w.field('unmerged_leaves', unmergedLeavesCodec, v.unmergedLeaves);
  },
  (r) => ({
    encryptionKey: r.field('encryption_key', hpkePublicKeyCodec),
    parentHash: r.field('parent_hash', opaque),
    unmergedLeaves: r.field('unmerged_leaves', unmergedLeavesCodec),
  }),
);

/** §7.8 NodeType. */
export const NodeType = { leaf: 1, parent: 2 } as const;
export type NodeType = (typeof NodeType)[keyof typeof NodeType];
const nodeTypeCodec = numericEnum('NodeType', NodeType);

/** §7.8 Node. */
export type Node =
  { nodeType: typeof NodeType.leaf; leafNode: LeafNode } | { nodeType: typeof NodeType.parent; parentNode: ParentNode };
const nodeCodec = codec<Node>(
  'Node',
  (w, v) => {
    w.field('node_type', nodeTypeCodec, v.nodeType);
    if (v.nodeType === NodeType.leaf) w.field('leaf_node', leafNodeCodec, v.leafNode);
    else w.field('parent_node', parentNodeCodec, v.parentNode);
  },
  (r): Node => {
    const nodeType = r.field('node_type', nodeTypeCodec);
    if (nodeType === NodeType.leaf) return { nodeType, leafNode: r.field('leaf_node', leafNodeCodec) };
    return { nodeType, parentNode: r.field('parent_node', parentNodeCodec) };
  },
);

/**
 * §12.4.3.3 `optional<Node> ratchet_tree<V>`: node i of the array-based tree (Appendix C),
 * `undefined` for a blank node. Purely syntactic: shape rules (odd length, leaves at even
 * indices, no trailing blank) belong to the ratchet-tree layer.
 */
export type RatchetTree = (Node | undefined)[];

/**
 * Node encodings by node object. Nodes are never mutated (a change makes a new node object) and
 * successive epochs' trees share all but a few, while a commit in a large group writes its tree
 * several times (GroupInfo extension, epoch record, the tree sent beside the commit): each node
 * is encoded once and then copied.
 */
const nodeEncodings = new WeakMap<Node, Uint8Array>();
const cachedNodeCodec = codec<Node>(
  'Node',
  (w, v) => {
    let bytes = nodeEncodings.get(v);
    if (bytes === undefined) {
      bytes = encodeValue(v, nodeCodec);
      nodeEncodings.set(v, bytes);
    }
    w.raw(bytes);
  },
  nodeCodec.decode,
);

/** One tree node (encodings cached per node object, as in `ratchetTreeCodec`): the gateway stores nodes one row each. */
export const treeNodeCodec: Codec<Node> = cachedNodeCodec;

export const ratchetTreeCodec: Codec<RatchetTree> = codec(
  'RatchetTree',
  vectorOf(optionalOf(cachedNodeCodec)).encode,
  vectorOf(optionalOf(nodeCodec)).decode,
);

// ---- UpdatePath ------------------------------------------------------------------------------------

/** §7.6 UpdatePathNode. */
export interface UpdatePathNode {
  encryptionKey: Uint8Array;
  encryptedPathSecret: HPKECiphertext[];
}
const hpkeCiphertextsCodec = vectorOf(hpkeCiphertextCodec);
const updatePathNodeCodec = codec<UpdatePathNode>(
  'UpdatePathNode',
  (w, v) => {
    w.field('encryption_key', hpkePublicKeyCodec, v.encryptionKey);
    w.field('encrypted_path_secret', hpkeCiphertextsCodec, v.encryptedPathSecret);
  },
  (r) => ({
    encryptionKey: r.field('encryption_key', hpkePublicKeyCodec),
    encryptedPathSecret: r.field('encrypted_path_secret', hpkeCiphertextsCodec),
  }),
);

/** §7.6 UpdatePath. */
export interface UpdatePath {
  leafNode: LeafNode;
  nodes: UpdatePathNode[];
}
const updatePathNodesCodec = vectorOf(updatePathNodeCodec);
export const updatePathCodec = codec<UpdatePath>(
  'UpdatePath',
  (w, v) => {
    w.field('leaf_node', leafNodeCodec, v.leafNode);
    w.field('nodes', updatePathNodesCodec, v.nodes);
  },
  (r) => ({ leafNode: r.field('leaf_node', leafNodeCodec), nodes: r.field('nodes', updatePathNodesCodec) }),
);

// ---- KeyPackage ------------------------------------------------------------------------------------

/** §10 KeyPackageTBS. */
export interface KeyPackageTBS {
  version: ProtocolVersion;
  cipherSuite: CipherSuite;
  initKey: Uint8Array;
  leafNode: LeafNode;
  extensions: Extension[];
}
/** §10 KeyPackage. */
export interface KeyPackage extends KeyPackageTBS {
  signature: Uint8Array;
}

function encodeKeyPackageTbs(w: TlsWriter, v: KeyPackageTBS): void {
  w.field('version', protocolVersionCodec, v.version);
  w.field('cipher_suite', cipherSuiteCodec, v.cipherSuite);
  w.field('init_key', hpkePublicKeyCodec, v.initKey);
  w.field('leaf_node', leafNodeCodec, v.leafNode);
  w.field('extensions', extensionsCodec, v.extensions);
}

function decodeKeyPackageTbs(r: TlsReader): KeyPackageTBS {
  return {
    version: r.field('version', protocolVersionCodec),
    cipherSuite: r.field('cipher_suite', cipherSuiteCodec),
    initKey: r.field('init_key', hpkePublicKeyCodec),
    leafNode: r.field('leaf_node', leafNodeCodec),
    extensions: r.field('extensions', extensionsCodec),
  };
}

/** Encodes only the TBS fields of the value given (a whole KeyPackage's signature is left out). */
export const keyPackageTbsCodec = codec<KeyPackageTBS>('KeyPackageTBS', encodeKeyPackageTbs, decodeKeyPackageTbs);

export const keyPackageCodec: Codec<KeyPackage> = signedCodec('KeyPackage', keyPackageTbsCodec);
