/**
 * The secret tree (RFC 9420 §9): from an epoch's encryption_secret down to one handshake and one
 * application hash ratchet per leaf, and the sender-data key and nonce (§6.3.2).
 *
 * Derivation is lazy: only the path to a leaf that sends (or receives) is expanded, and a node's
 * secret is dropped once its children are derived (§9.2 deletion schedule). A ratchet forgets a
 * key once it is used; keys of skipped generations are kept in a small window for messages that
 * arrive out of order.
 *
 * Persistence is incremental: the unexpanded node secrets ("frontier") encode to one small
 * record and each leaf's two ratchets to another (`exportNodes`, `exportLeaf`); `takeChanges`
 * says which of them changed since the last save, and `restore` can load leaves on demand.
 */
import { decodeAll, writeTls, type TlsReader } from '../../codec/tls-codec';
import type { CipherSuite } from './crypto/cipher-suite';
import { deriveTreeSecret, expandWithLabel } from './crypto/labeled';
import { MlsProtocolError } from './errors';
import { opaqueSize, putOpaque, putUint32, putVarint, varintSize } from './put-bytes';
import { leafToNode, left, level, nodeWidth, parent, right, root } from './tree-math';

export type RatchetType = 'handshake' | 'application';

export interface RatchetKey {
  readonly generation: number;
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
}

/** One hash ratchet (§9.1): the secret of generation `generation`, and unused keys of older ones. */
export interface RatchetState {
  generation: number;
  secret: Uint8Array;
  /** Keys of generations below `generation` not yet used, oldest first. */
  skipped: RatchetKey[];
}

export interface LeafRatchets {
  handshake: RatchetState;
  application: RatchetState;
}

export interface SecretTreeOptions {
  /** How far ahead of the ratchet a received generation may be (default 1000). */
  readonly maxForward?: number;
  /** How many unused keys a ratchet keeps for out-of-order messages (default 64, at least 1). */
  readonly maxSkipped?: number;
}

const MAX_GENERATION = 0xffffffff;
const FORMAT_VERSION = 1;

/** sender_data key and nonce from the first KDF.Nh bytes of the content ciphertext (§6.3.2). */
export function senderDataKeyNonce(
  suite: CipherSuite,
  senderDataSecret: Uint8Array,
  ciphertext: Uint8Array,
): { key: Uint8Array; nonce: Uint8Array } {
  const sample = ciphertext.subarray(0, Math.min(suite.hashLength, ciphertext.length));
  return {
    key: expandWithLabel(suite, senderDataSecret, 'key', sample, suite.aeadKeyLength),
    nonce: expandWithLabel(suite, senderDataSecret, 'nonce', sample, suite.aeadNonceLength),
  };
}

export class SecretTree {
  private readonly maxForward: number;
  private readonly maxSkipped: number;
  private readonly changedLeaves = new Set<number>();
  private nodesChanged = false;

  private constructor(
    private readonly suite: CipherSuite,
    readonly leafCount: number,
    /** Secrets of nodes not yet expanded: for every leaf, itself or one ancestor is here, or its ratchets are. */
    private readonly nodes: Map<number, Uint8Array>,
    private readonly leaves: Map<number, LeafRatchets>,
    options: SecretTreeOptions,
    private readonly loadLeaf?: (leaf: number) => Uint8Array | undefined,
  ) {
    this.maxForward = options.maxForward ?? 1000;
    this.maxSkipped = Math.max(1, options.maxSkipped ?? 64);
  }

  /** A new epoch's tree: `encryptionSecret` at the root of a tree of `leafCount` leaves. */
  static create(
    suite: CipherSuite,
    encryptionSecret: Uint8Array,
    leafCount: number,
    options: SecretTreeOptions = {},
  ): SecretTree {
    if (!Number.isInteger(leafCount) || leafCount < 1) {
      throw new MlsProtocolError('invalid', `bad leaf count ${leafCount}`);
    }
    const tree = new SecretTree(suite, leafCount, new Map([[root(leafCount), encryptionSecret]]), new Map(), options);
    tree.nodesChanged = true;
    return tree;
  }

  /**
   * A tree saved with `exportNodes` and `exportLeaf`. Leaves are given now (`leaves`) or
   * fetched when first needed (`loadLeaf`, which returns undefined for a leaf never saved).
   */
  static restore(
    suite: CipherSuite,
    nodes: Uint8Array,
    options: SecretTreeOptions = {},
    leaves: Iterable<Uint8Array> = [],
    loadLeaf?: (leaf: number) => Uint8Array | undefined,
  ): SecretTree {
    const { leafCount, secrets } = decodeAll(nodes, { name: 'SecretTreeNodes', decode: readNodes });
    const tree = new SecretTree(suite, leafCount, secrets, new Map(), options, loadLeaf);
    for (const bytes of leaves) {
      const { leaf, ratchets } = decodeAll(bytes, { name: 'LeafRatchets', decode: readLeaf });
      tree.leaves.set(leaf, ratchets);
    }
    return tree;
  }

  /** Sending: the key and nonce of the next generation of `leaf`'s ratchet, which then moves on. */
  next(leaf: number, type: RatchetType): RatchetKey {
    const r = this.ratchet(leaf, type);
    if (r.generation >= MAX_GENERATION) {
      throw new MlsProtocolError('outOfWindow', `leaf ${leaf}: ${type} ratchet exhausted`);
    }
    const k = this.keyAt(r.secret, r.generation);
    this.advance(r);
    this.changedLeaves.add(leaf);
    return k;
  }

  /**
   * Receiving: the key and nonce of `generation`, without forgetting it (call `consume` once the
   * message decrypted, or use `use`). Generations skipped on the way stay in the window.
   */
  key(leaf: number, type: RatchetType, generation: number): RatchetKey {
    const { key, moved } = this.lookup(leaf, type, generation);
    if (moved !== undefined) this.commit(leaf, type, moved);
    return key;
  }

  /** Forget the key of `generation` (after it decrypted a message). */
  consume(leaf: number, type: RatchetType, generation: number): void {
    const r = this.ratchet(leaf, type);
    const i = r.skipped.findIndex((k) => k.generation === generation);
    if (i >= 0) {
      r.skipped.splice(i, 1);
      this.changedLeaves.add(leaf);
    }
  }

  /**
   * `fn` with the key of `generation`. Only if `fn` returns (the message decrypted) does the
   * ratchet move on and forget the key: a forged message with a far-ahead generation cannot
   * push the window past keys that honest messages still need.
   */
  use<T>(leaf: number, type: RatchetType, generation: number, fn: (key: RatchetKey) => T): T {
    const r = this.ratchet(leaf, type);
    if (generation === r.generation && generation < MAX_GENERATION && r.skipped.length < this.maxSkipped) {
      // The next generation, as messages usually come: its key, then the ratchet moves on (what
      // `lookup` + `commit` + `consume` do, without the window bookkeeping).
      const result = fn(this.keyAt(r.secret, generation));
      this.advance(r);
      this.changedLeaves.add(leaf);
      return result;
    }
    const { key, moved } = this.lookup(leaf, type, generation);
    const result = fn(key);
    if (moved !== undefined) this.commit(leaf, type, moved);
    this.consume(leaf, type, generation);
    return result;
  }

  /** The key of `generation`, and the ratchet's new state if reaching it moves the ratchet. */
  private lookup(
    leaf: number,
    type: RatchetType,
    generation: number,
  ): { key: RatchetKey; moved: RatchetState | undefined } {
    const r = this.ratchet(leaf, type);
    if (generation < r.generation) {
      const kept = r.skipped.find((k) => k.generation === generation);
      if (kept === undefined) {
        throw new MlsProtocolError(
          'outOfWindow',
          `leaf ${leaf}: ${type} generation ${generation} already used or dropped`,
        );
      }
      return { key: kept, moved: undefined };
    }
    if (generation - r.generation > this.maxForward || generation > MAX_GENERATION) {
      throw new MlsProtocolError(
        'outOfWindow',
        `leaf ${leaf}: ${type} generation ${generation} too far ahead of ${r.generation}`,
      );
    }
    const moved: RatchetState = { generation: r.generation, secret: r.secret, skipped: [] };
    // Keys of generations that will not fit in the window are never derived.
    const keepFrom = generation + 1 - this.maxSkipped;
    while (moved.generation <= generation) {
      if (moved.generation >= keepFrom) moved.skipped.push(this.keyAt(moved.secret, moved.generation));
      this.advance(moved);
    }
    return { key: moved.skipped[moved.skipped.length - 1]!, moved };
  }

  private commit(leaf: number, type: RatchetType, moved: RatchetState): void {
    const r = this.ratchet(leaf, type);
    const skipped = r.skipped.concat(moved.skipped);
    r.skipped = skipped.length > this.maxSkipped ? skipped.slice(skipped.length - this.maxSkipped) : skipped;
    r.generation = moved.generation;
    r.secret = moved.secret;
    this.changedLeaves.add(leaf);
  }

  // ---- persistence ------------------------------------------------------------------------

  /**
   * Derive the ratchets of `leaves` now (their senders' first messages then cost no tree
   * expansion). Not a change to save: generation 0 of a leaf is derived again, identically, from
   * the saved node secrets. Leaves out of range or already present are skipped.
   */
  prepare(leaves: Iterable<number>): void {
    for (const leaf of leaves) {
      if (this.leaves.has(leaf) || !Number.isInteger(leaf) || leaf < 0 || leaf >= this.leafCount) continue;
      const saved = this.loadLeaf?.(leaf);
      if (saved !== undefined) this.leafRatchets(leaf);
      else this.leaves.set(leaf, this.deriveLeaf(leaf));
    }
  }

  /** Which records changed since the last call (and forget that they did). */
  takeChanges(): { nodes: boolean; leaves: number[] } {
    const leaves = [...this.changedLeaves];
    if (leaves.length > 1) leaves.sort((a, b) => a - b);
    const out = { nodes: this.nodesChanged, leaves };
    this.nodesChanged = false;
    this.changedLeaves.clear();
    return out;
  }

  /** The leaf count and the unexpanded node secrets. */
  exportNodes(): Uint8Array {
    return writeTls((w) => {
      w.uint8(FORMAT_VERSION);
      w.uint32(this.leafCount);
      w.varint(this.nodes.size);
      for (const [node, secret] of this.nodes) {
        w.uint32(node);
        w.opaque(secret);
      }
    });
  }

  /** One leaf's two ratchets, or undefined if that leaf has not been used yet. */
  exportLeaf(leaf: number): Uint8Array | undefined {
    const ratchets = this.leaves.get(leaf);
    if (ratchets === undefined) return undefined;
    // Written once per message: straight into an array of its exact size.
    const out = new Uint8Array(5 + ratchetSize(ratchets.handshake) + ratchetSize(ratchets.application));
    out[0] = FORMAT_VERSION;
    putUint32(out, 1, leaf);
    putRatchet(out, putRatchet(out, 5, ratchets.handshake), ratchets.application);
    return out;
  }

  /** Current state of a leaf's ratchets, if derived (for tests and diagnostics). */
  leafState(leaf: number): Readonly<LeafRatchets> | undefined {
    return this.leaves.get(leaf);
  }

  /** Number of unexpanded node secrets held. */
  get nodeSecretCount(): number {
    return this.nodes.size;
  }

  // ---- derivation -------------------------------------------------------------------------

  private keyAt(secret: Uint8Array, generation: number): RatchetKey {
    const s = this.suite;
    return {
      generation,
      key: deriveTreeSecret(s, secret, 'key', generation, s.aeadKeyLength),
      nonce: deriveTreeSecret(s, secret, 'nonce', generation, s.aeadNonceLength),
    };
  }

  private advance(r: RatchetState): void {
    r.secret = deriveTreeSecret(this.suite, r.secret, 'secret', r.generation, this.suite.hashLength);
    r.generation++;
  }

  private ratchet(leaf: number, type: RatchetType): RatchetState {
    return this.leafRatchets(leaf)[type];
  }

  private leafRatchets(leaf: number): LeafRatchets {
    const have = this.leaves.get(leaf);
    if (have !== undefined) return have;
    if (!Number.isInteger(leaf) || leaf < 0 || leaf >= this.leafCount) {
      throw new MlsProtocolError('notFound', `leaf ${leaf} is not in a secret tree of ${this.leafCount} leaves`);
    }
    const saved = this.loadLeaf?.(leaf);
    if (saved !== undefined) {
      const { leaf: savedLeaf, ratchets } = decodeAll(saved, { name: 'LeafRatchets', decode: readLeaf });
      if (savedLeaf !== leaf) {
        throw new MlsProtocolError('invalid', `saved ratchets of leaf ${savedLeaf} loaded for leaf ${leaf}`);
      }
      this.leaves.set(leaf, ratchets);
      return ratchets;
    }
    const ratchets = this.deriveLeaf(leaf);
    this.leaves.set(leaf, ratchets);
    this.changedLeaves.add(leaf);
    return ratchets;
  }

  /** Expand the frontier down to `leaf`, dropping each expanded node's secret. */
  private deriveLeaf(leaf: number): LeafRatchets {
    const target = leafToNode(leaf);
    // The lowest ancestor-or-self of the leaf that still holds a secret.
    let x = target;
    const r = root(this.leafCount);
    while (!this.nodes.has(x)) {
      if (x === r) throw new MlsProtocolError('invalid', `secret tree: the secrets of leaf ${leaf} are gone`);
      x = parent(x, this.leafCount);
    }
    const s = this.suite;
    let secret = this.nodes.get(x)!;
    this.nodes.delete(x);
    while (x !== target) {
      const l = left(x);
      const rr = right(x);
      const ls = expandWithLabel(s, secret, 'tree', LEFT, s.hashLength);
      const rs = expandWithLabel(s, secret, 'tree', RIGHT, s.hashLength);
      if (target < x) {
        this.keepNode(rr, rs);
        x = l;
        secret = ls;
      } else {
        this.keepNode(l, ls);
        x = rr;
        secret = rs;
      }
    }
    this.nodesChanged = true;
    const empty = new Uint8Array(0);
    return {
      handshake: { generation: 0, secret: expandWithLabel(s, secret, 'handshake', empty, s.hashLength), skipped: [] },
      application: {
        generation: 0,
        secret: expandWithLabel(s, secret, 'application', empty, s.hashLength),
        skipped: [],
      },
    };
  }

  /** Keep a sibling's secret unless the subtree holds no leaf of this tree. */
  private keepNode(node: number, secret: Uint8Array): void {
    const firstLeafNode = node - (2 ** level(node) - 1);
    if (firstLeafNode < nodeWidth(this.leafCount)) this.nodes.set(node, secret);
  }
}

const LEFT = new TextEncoder().encode('left');
const RIGHT = new TextEncoder().encode('right');

// ---- encoding of saved state ---------------------------------------------------------------

function ratchetSize(r: RatchetState): number {
  let n = 4 + opaqueSize(r.secret) + varintSize(r.skipped.length);
  for (const k of r.skipped) n += 4 + opaqueSize(k.key) + opaqueSize(k.nonce);
  return n;
}

/** uint32 generation, opaque secret<V>, then the skipped keys as a varint count of (uint32, key<V>, nonce<V>). */
function putRatchet(out: Uint8Array, at: number, r: RatchetState): number {
  let p = putOpaque(out, putUint32(out, at, r.generation), r.secret);
  p = putVarint(out, p, r.skipped.length);
  for (const k of r.skipped) p = putOpaque(out, putOpaque(out, putUint32(out, p, k.generation), k.key), k.nonce);
  return p;
}

function readVersion(r: TlsReader): void {
  const at = r.offset;
  const v = r.uint8();
  if (v !== FORMAT_VERSION) r.fail(`unknown secret tree state version ${v}`, at);
}

function readRatchet(r: TlsReader): RatchetState {
  const generation = r.uint32();
  const secret = r.opaque();
  const count = r.varint();
  const skipped: RatchetKey[] = [];
  for (let i = 0; i < count; i++) skipped.push({ generation: r.uint32(), key: r.opaque(), nonce: r.opaque() });
  return { generation, secret, skipped };
}

function readLeaf(r: TlsReader): { leaf: number; ratchets: LeafRatchets } {
  readVersion(r);
  const leaf = r.uint32();
  return { leaf, ratchets: { handshake: readRatchet(r), application: readRatchet(r) } };
}

function readNodes(r: TlsReader): { leafCount: number; secrets: Map<number, Uint8Array> } {
  readVersion(r);
  const leafCount = r.uint32();
  const count = r.varint();
  const secrets = new Map<number, Uint8Array>();
  for (let i = 0; i < count; i++) secrets.set(r.uint32(), r.opaque());
  return { leafCount, secrets };
}
