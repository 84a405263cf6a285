/**
 * The public ratchet tree (RFC 9420 §4, §7): an array of optional nodes in the array layout of
 * Appendix C, always 2^d leaves wide (the `ratchet_tree` extension's trailing blanks are added
 * back on decode and dropped on encode, §12.4.3.3).
 *
 * A `RatchetTree` is mutable, but its nodes are immutable objects: every change replaces a node
 * reference, so `clone()` is one array copy and a clone shares every node with its original.
 * Each tree also carries the per-node tree-hash cache that `tree-hash.ts` fills: a change to
 * node i forgets the cached hashes of i and of its direct path only, so a commit that touches a
 * few paths of a tree of thousands of leaves re-hashes a few paths.
 */
import { decodeAll, encodeValue } from '../../codec/tls-codec';
import { MlsProtocolError } from './errors';
import { LeafNodeSource, NodeType, ratchetTreeCodec, type LeafNode, type Node, type ParentNode } from './structs/tree';
import { directPath, isLeaf, leafToNode, left, level, nodeWidth, parent, right, root } from './tree-math';

export type NodeIndex = number;
export type LeafIndex = number;

/** A Map key for a public key's bytes. */
export function keyId(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64');
}

/** The HPKE public key of a non-blank node. */
export function nodeEncryptionKey(node: Node): Uint8Array {
  return node.nodeType === NodeType.leaf ? node.leafNode.encryptionKey : node.parentNode.encryptionKey;
}

/** The `parent_hash` a node carries (a parent node's, or a `commit` leaf's); undefined for other leaves. */
export function nodeParentHash(node: Node): Uint8Array | undefined {
  if (node.nodeType === NodeType.parent) return node.parentNode.parentHash;
  return node.leafNode.leafNodeSource === LeafNodeSource.commit ? node.leafNode.parentHash : undefined;
}

/** Whether leaf `leaf` is in the subtree under node `x`. */
export function isLeafUnder(leaf: LeafIndex, x: NodeIndex): boolean {
  return Math.abs(leafToNode(leaf) - x) < 2 ** level(x);
}

/** Key → index lookups, built on first use and kept up to date by `setNode`. */
interface KeyIndex {
  /** Encryption key of every non-blank node (leaf or parent) → node index. */
  encryption: Map<string, NodeIndex>;
  /** Signature key of every non-blank leaf → leaf index. */
  signature: Map<string, LeafIndex>;
}

export class RatchetTree {
  /**
   * `toBytes()` of the tree as it is, until a change: an epoch's tree is written several times
   * (the epoch record, the tree beside a commit, a GroupInfo's `ratchet_tree`), and a clone
   * shares it until either changes.
   */
  private encoded: Uint8Array | undefined;
  /** `credentialTypes()` until a leaf changes (a clone shares it: it is never mutated). */
  private credentials: ReadonlySet<number> | undefined;
  /** `commonProposalTypes()` until a leaf changes (shared by clones likewise). */
  private proposalTypes: ReadonlySet<number> | undefined;

  private constructor(
    private nodes: (Node | undefined)[],
    private hashes: (Uint8Array | undefined)[],
    private hashSuite: number | undefined,
    private keys: KeyIndex | undefined,
  ) {}

  /**
   * A tree from `optional<Node> ratchet_tree<V>` (§12.4.3.3). Checks the shape: the last node
   * non-blank, leaves at even and parent nodes at odd indices, at most 2^31 leaves. The node
   * list is padded with blanks to the full width 2^(d+1) - 1.
   */
  static fromNodes(nodes: readonly (Node | undefined)[]): RatchetTree {
    if (nodes.length === 0) throw new MlsProtocolError('invalid', 'ratchet tree: empty');
    if (nodes[nodes.length - 1] === undefined) {
      throw new MlsProtocolError('invalid', 'ratchet tree: last node is blank');
    }
    if (nodes.length % 2 === 0) throw new MlsProtocolError('invalid', 'ratchet tree: even number of nodes');
    nodes.forEach((n, i) => {
      if (n !== undefined && (n.nodeType === NodeType.leaf) !== isLeaf(i)) {
        throw new MlsProtocolError('invalid', `ratchet tree: node ${i} should be a ${isLeaf(i) ? 'leaf' : 'parent'}`);
      }
    });
    let leaves = 1;
    while (nodeWidth(leaves) < nodes.length) leaves *= 2;
    if (leaves > 2 ** 31) throw new MlsProtocolError('invalid', 'ratchet tree: too many leaves');
    const full: (Node | undefined)[] = nodes.slice();
    while (full.length < nodeWidth(leaves)) full.push(undefined);
    return new RatchetTree(full, new Array<Uint8Array | undefined>(full.length), undefined, undefined);
  }

  /** A tree from the bytes of a `ratchet_tree` extension (CodecError for bad bytes, MlsProtocolError for a bad shape). */
  static fromBytes(bytes: Uint8Array): RatchetTree {
    return RatchetTree.fromNodes(decodeAll(bytes, ratchetTreeCodec));
  }

  /** The one-member tree of a new group (§11). */
  static single(leaf: LeafNode): RatchetTree {
    return RatchetTree.fromNodes([{ nodeType: NodeType.leaf, leafNode: leaf }]);
  }

  /** The nodes as the `ratchet_tree` extension lists them: trailing blank nodes left out. */
  toNodes(): (Node | undefined)[] {
    let end = this.nodes.length;
    while (end > 0 && this.nodes[end - 1] === undefined) end--;
    return this.nodes.slice(0, end);
  }

  /** The `ratchet_tree` extension's bytes (shared between calls: do not modify them). */
  toBytes(): Uint8Array {
    this.encoded ??= encodeValue(this.toNodes(), ratchetTreeCodec);
    return this.encoded;
  }

  /** A copy that shares the (immutable) node objects and the tree-hash cache entries. */
  clone(): RatchetTree {
    const keys = this.keys && { encryption: new Map(this.keys.encryption), signature: new Map(this.keys.signature) };
    const copy = new RatchetTree(this.nodes.slice(), this.hashes.slice(), this.hashSuite, keys);
    copy.encoded = this.encoded;
    copy.credentials = this.credentials;
    copy.proposalTypes = this.proposalTypes;
    return copy;
  }

  // ---- shape ---------------------------------------------------------------------------------

  /** Number of leaves, blank or not: a power of two. */
  get leafCount(): number {
    return (this.nodes.length + 1) / 2;
  }

  /** Number of nodes: 2 * leafCount - 1. */
  get nodeCount(): number {
    return this.nodes.length;
  }

  get root(): NodeIndex {
    return root(this.leafCount);
  }

  /** Direct path of a node (§4.1.2), bottom-up, root included. */
  directPath(x: NodeIndex): NodeIndex[] {
    return directPath(x, this.leafCount);
  }

  // ---- reading ---------------------------------------------------------------------------------

  node(x: NodeIndex): Node | undefined {
    return this.nodes[x];
  }

  isBlank(x: NodeIndex): boolean {
    return this.nodes[x] === undefined;
  }

  leafNode(leaf: LeafIndex): LeafNode | undefined {
    const n = this.nodes[leafToNode(leaf)];
    return n?.nodeType === NodeType.leaf ? n.leafNode : undefined;
  }

  parentNode(x: NodeIndex): ParentNode | undefined {
    const n = this.nodes[x];
    return n?.nodeType === NodeType.parent ? n.parentNode : undefined;
  }

  /** The non-blank leaves, left to right. */
  *leaves(): IterableIterator<[LeafIndex, LeafNode]> {
    for (let x = 0; x < this.nodes.length; x += 2) {
      const n = this.nodes[x];
      if (n?.nodeType === NodeType.leaf) yield [x / 2, n.leafNode];
    }
  }

  /** The non-blank parent nodes, left to right. */
  *parents(): IterableIterator<[NodeIndex, ParentNode]> {
    for (let x = 1; x < this.nodes.length; x += 2) {
      const n = this.nodes[x];
      if (n?.nodeType === NodeType.parent) yield [x, n.parentNode];
    }
  }

  /**
   * The credential types the non-blank leaves use (§7.2 checks a new leaf against them); after
   * removals it may still list a type no leaf uses any more.
   */
  credentialTypes(): ReadonlySet<number> {
    if (this.credentials === undefined) {
      const types = new Set<number>();
      for (const [, leaf] of this.leaves()) types.add(leaf.credential.credentialType);
      this.credentials = types;
    }
    return this.credentials;
  }

  /** Proposal types every non-blank leaf lists in its capabilities (after removals, possibly fewer). */
  commonProposalTypes(): ReadonlySet<number> {
    if (this.proposalTypes === undefined) {
      let common: number[] | undefined;
      for (const [, leaf] of this.leaves()) {
        const listed = leaf.capabilities.proposals;
        common = common ? common.filter((t) => listed.includes(t)) : [...listed];
      }
      this.proposalTypes = new Set(common);
    }
    return this.proposalTypes;
  }

  /**
   * Keep `credentialTypes()` a superset and `commonProposalTypes()` a subset of the truth when a
   * leaf is set (a blanked leaf leaves them as they are): both stay safe for the fast checks
   * that use them, and a commit does not rescan every leaf.
   */
  private updateLeafSummaries(node: Node | undefined): void {
    if (node?.nodeType !== NodeType.leaf) return;
    const { credential, capabilities } = node.leafNode;
    if (this.credentials && !this.credentials.has(credential.credentialType)) {
      this.credentials = new Set([...this.credentials, credential.credentialType]);
    }
    if (this.proposalTypes && [...this.proposalTypes].some((t) => !capabilities.proposals.includes(t))) {
      this.proposalTypes = new Set([...this.proposalTypes].filter((t) => capabilities.proposals.includes(t)));
    }
  }

  /** The leaf whose LeafNode has this signature key. */
  findLeafBySignatureKey(key: Uint8Array): LeafIndex | undefined {
    return this.keyIndex().signature.get(keyId(key));
  }

  /** The leaf whose LeafNode has this encryption key. */
  findLeafByEncryptionKey(key: Uint8Array): LeafIndex | undefined {
    const x = this.findNodeByEncryptionKey(key);
    return x !== undefined && isLeaf(x) ? x / 2 : undefined;
  }

  /** The node (leaf or parent) that has this encryption key. */
  findNodeByEncryptionKey(key: Uint8Array): NodeIndex | undefined {
    return this.keyIndex().encryption.get(keyId(key));
  }

  // ---- §4.1.1 resolution, §4.1.2 filtered direct path --------------------------------------------

  /**
   * The resolution of node x (§4.1.1), in the RFC's order: a non-blank node and then its
   * unmerged leaves, a blank leaf nothing, a blank parent the resolutions of its children.
   * Leaves in `excluded` (e.g. members added by the commit being made, §7.6) are left out.
   */
  resolution(x: NodeIndex, excluded?: ReadonlySet<LeafIndex>): NodeIndex[] {
    const out: NodeIndex[] = [];
    const walk = (y: NodeIndex): void => {
      const n = this.nodes[y];
      if (n === undefined) {
        if (!isLeaf(y)) {
          walk(left(y));
          walk(right(y));
        }
        return;
      }
      if (n.nodeType === NodeType.leaf) {
        if (!excluded?.has(y / 2)) out.push(y);
        return;
      }
      out.push(y);
      for (const l of n.parentNode.unmergedLeaves) if (!excluded?.has(l)) out.push(leafToNode(l));
    };
    walk(x);
    return out;
  }

  /** Whether the resolution of x is empty, i.e. every node under x is blank. */
  private resolutionIsEmpty(x: NodeIndex): boolean {
    if (this.nodes[x] !== undefined) return false;
    return isLeaf(x) || (this.resolutionIsEmpty(left(x)) && this.resolutionIsEmpty(right(x)));
  }

  /**
   * The filtered direct path of a leaf (§4.1.2) with, for each node, its child on the copath of
   * the leaf: nodes whose copath child has an empty resolution are left out. Bottom-up.
   */
  filteredDirectPathWithCopath(leaf: LeafIndex): { node: NodeIndex; copathChild: NodeIndex }[] {
    const out: { node: NodeIndex; copathChild: NodeIndex }[] = [];
    let below = leafToNode(leaf);
    for (const p of this.directPath(below)) {
      const copathChild = below < p ? right(p) : left(p);
      if (!this.resolutionIsEmpty(copathChild)) out.push({ node: p, copathChild });
      below = p;
    }
    return out;
  }

  filteredDirectPath(leaf: LeafIndex): NodeIndex[] {
    return this.filteredDirectPathWithCopath(leaf).map((e) => e.node);
  }

  /** The copath of a leaf (§4.1.2), bottom-up. */
  copath(leaf: LeafIndex): NodeIndex[] {
    let below = leafToNode(leaf);
    return this.directPath(below).map((p) => {
      const c = below < p ? right(p) : left(p);
      below = p;
      return c;
    });
  }

  // ---- changes -----------------------------------------------------------------------------------

  /**
   * Set or blank node x. Forgets the cached tree hashes of x and its direct path and keeps the
   * key lookups current. Leaves must get leaf nodes and parents parent nodes.
   */
  setNode(x: NodeIndex, node: Node | undefined): void {
    if (x < 0 || x >= this.nodes.length || !Number.isInteger(x)) {
      throw new MlsProtocolError('invalid', `node ${x} is outside the tree of ${this.nodes.length} nodes`);
    }
    if (node !== undefined && (node.nodeType === NodeType.leaf) !== isLeaf(x)) {
      throw new MlsProtocolError('invalid', `node ${x} cannot hold a ${isLeaf(x) ? 'parent' : 'leaf'} node`);
    }
    const old = this.nodes[x];
    if (this.keys) {
      if (old) this.unindex(x, old);
      if (node) this.index(x, node);
    }
    this.nodes[x] = node;
    this.encoded = undefined;
    if (isLeaf(x)) this.updateLeafSummaries(node);
    this.forgetHashes(x);
  }

  setLeaf(leaf: LeafIndex, leafNode: LeafNode | undefined): void {
    this.setNode(leafToNode(leaf), leafNode && { nodeType: NodeType.leaf, leafNode });
  }

  setParent(x: NodeIndex, parentNode: ParentNode | undefined): void {
    this.setNode(x, parentNode && { nodeType: NodeType.parent, parentNode });
  }

  /** Blank every parent node on the direct path of a leaf. */
  blankDirectPath(leaf: LeafIndex): void {
    for (const p of this.directPath(leafToNode(leaf))) if (this.nodes[p] !== undefined) this.setNode(p, undefined);
  }

  /**
   * Add a member (§12.1.1): the leftmost blank leaf, or a new one after doubling the tree; the
   * leaf index goes into `unmerged_leaves` of every non-blank parent on its direct path.
   */
  addLeaf(leafNode: LeafNode): LeafIndex {
    const leaf = this.leftmostBlankLeaf();
    for (const p of this.directPath(leafToNode(leaf))) {
      const pn = this.parentNode(p);
      if (pn) this.setParent(p, { ...pn, unmergedLeaves: insertSorted(pn.unmergedLeaves, leaf) });
    }
    this.setLeaf(leaf, leafNode);
    return leaf;
  }

  /**
   * The leftmost blank leaf, after doubling the tree if there is none: where an Add puts its
   * member (§12.1.1) and where an external committer sits (§12.4.1).
   */
  leftmostBlankLeaf(): LeafIndex {
    let leaf = 0;
    while (leaf < this.leafCount && this.nodes[leafToNode(leaf)] !== undefined) leaf++;
    if (leaf === this.leafCount) this.extend();
    return leaf;
  }

  /** Apply an Update (§12.1.2): replace the leaf and blank its direct path. */
  updateLeaf(leaf: LeafIndex, leafNode: LeafNode): void {
    if (this.leafNode(leaf) === undefined) throw new MlsProtocolError('notFound', `leaf ${leaf} is blank`);
    this.setLeaf(leaf, leafNode);
    this.blankDirectPath(leaf);
  }

  /** Apply a Remove (§12.1.3): blank the leaf and its direct path, then truncate. */
  removeLeaf(leaf: LeafIndex): void {
    if (leaf >= this.leafCount || this.leafNode(leaf) === undefined) {
      throw new MlsProtocolError('notFound', `leaf ${leaf} is blank or outside the tree`);
    }
    this.setLeaf(leaf, undefined);
    this.blankDirectPath(leaf);
    this.truncate();
  }

  /** Halve the tree while its right half is all blank (§7.8); a one-leaf tree stays. */
  truncate(): void {
    while (this.leafCount > 1) {
      const half = this.nodes.length >> 1; // the root; its right subtree follows it
      for (let x = half + 1; x < this.nodes.length; x++) if (this.nodes[x] !== undefined) return;
      if (this.keys && this.nodes[half]) this.unindex(half, this.nodes[half]);
      this.nodes.length = half;
      this.hashes.length = half;
      this.encoded = undefined;
    }
  }

  /** Double the width: a new blank root with the old tree on its left, blanks on its right. */
  private extend(): void {
    const width = this.nodes.length;
    this.encoded = undefined;
    for (let i = 0; i <= width; i++) {
      this.nodes.push(undefined);
      this.hashes.push(undefined);
    }
  }

  // ---- tree-hash cache (filled and read by tree-hash.ts only) ------------------------------------------

  /** @internal The cached tree hash of node x under cipher suite `suite`, if any. */
  cachedHash(suite: number, x: NodeIndex): Uint8Array | undefined {
    return this.hashSuite === suite ? this.hashes[x] : undefined;
  }

  /** @internal Remember the tree hash of node x under cipher suite `suite`. */
  cacheHash(suite: number, x: NodeIndex, hash: Uint8Array): void {
    if (this.hashSuite !== suite) {
      this.hashes = new Array<Uint8Array | undefined>(this.nodes.length);
      this.hashSuite = suite;
    }
    this.hashes[x] = hash;
  }

  private forgetHashes(x: NodeIndex): void {
    this.hashes[x] = undefined;
    const n = this.leafCount;
    const r = root(n);
    while (x !== r) {
      x = parent(x, n);
      if (this.hashes[x] === undefined) break; // nothing above can still be cached
      this.hashes[x] = undefined;
    }
  }

  // ---- key lookups ---------------------------------------------------------------------------------

  private keyIndex(): KeyIndex {
    if (this.keys) return this.keys;
    this.keys = { encryption: new Map(), signature: new Map() };
    this.nodes.forEach((n, x) => n && this.index(x, n));
    return this.keys;
  }

  private index(x: NodeIndex, n: Node): void {
    const k = this.keys!;
    const enc = keyId(nodeEncryptionKey(n));
    if (!k.encryption.has(enc)) k.encryption.set(enc, x);
    if (n.nodeType === NodeType.leaf) {
      const sig = keyId(n.leafNode.signatureKey);
      if (!k.signature.has(sig)) k.signature.set(sig, x / 2);
    }
  }

  private unindex(x: NodeIndex, n: Node): void {
    const k = this.keys!;
    const enc = keyId(nodeEncryptionKey(n));
    if (k.encryption.get(enc) === x) k.encryption.delete(enc);
    if (n.nodeType === NodeType.leaf) {
      const sig = keyId(n.leafNode.signatureKey);
      if (k.signature.get(sig) === x / 2) k.signature.delete(sig);
    }
  }
}

function insertSorted(list: readonly number[], v: number): number[] {
  const out = list.filter((x) => x !== v);
  const at = out.findIndex((x) => x > v);
  if (at < 0) out.push(v);
  else out.splice(at, 0, v);
  return out;
}
