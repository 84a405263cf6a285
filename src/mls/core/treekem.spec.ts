import { decodeAll } from '../../codec/tls-codec';
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../test/support/mls-vectors';
import type { CipherSuite, KeyPair } from './crypto/cipher-suite';
import { decryptWithLabel, encryptWithLabel } from './crypto/labeled';
import { cipherSuiteById, isSupportedCipherSuite } from './crypto/suites';
import { MlsProtocolError } from './errors';
import { RatchetTree, type NodeIndex } from './ratchet-tree';
import type { GroupContext } from './structs/group-context';
import { updatePathCodec, type UpdatePath } from './structs/tree';
import { treeHash } from './tree-hash';
import { validateRatchetTree } from './tree-validation';
import {
  createUpdatePath,
  decryptUpdatePath,
  joinerPathKeys,
  mergeUpdatePath,
  nodeKeyPair,
  pathSecretForJoiner,
  reconcilePrivateKeys,
  type CommitLeafFields,
  type PrivateTreeKeys,
} from './treekem';

interface TreeKemVector {
  cipher_suite: number;
  group_id: string;
  epoch: number;
  confirmed_transcript_hash: string;
  ratchet_tree: string;
  leaves_private: {
    index: number;
    encryption_priv: string;
    signature_priv: string;
    path_secrets: { node: number; path_secret: string }[];
  }[];
  update_paths: {
    sender: number;
    update_path: string;
    path_secrets: (string | null)[];
    commit_secret: string;
    tree_hash_after: string;
  }[];
}

/** The private TreeKEM state of one vector leaf, checked against the tree. */
function leafPrivateKeys(
  suite: CipherSuite,
  tree: RatchetTree,
  leaf: TreeKemVector['leaves_private'][number],
): Map<NodeIndex, KeyPair> {
  const publicKey = tree.leafNode(leaf.index)!.encryptionKey;
  const privateKey = hex(leaf.encryption_priv);
  // A round trip proves the leaf's private key matches its public key.
  const probe = encryptWithLabel(suite, publicKey, 'probe', new Uint8Array(0), new Uint8Array([1]));
  decryptWithLabel(suite, privateKey, 'probe', new Uint8Array(0), probe.kemOutput, probe.ciphertext);
  const keys = new Map<NodeIndex, KeyPair>([[2 * leaf.index, { privateKey, publicKey }]]);
  for (const { node, path_secret } of leaf.path_secrets) {
    const kp = nodeKeyPair(suite, hex(path_secret));
    expect(toHex(kp.publicKey)).toBe(toHex(tree.parentNode(node)!.encryptionKey));
    keys.set(node, kp);
  }
  return keys;
}

function leafFields(tree: RatchetTree, leaf: number): CommitLeafFields {
  const { signatureKey, credential, capabilities, extensions } = tree.leafNode(leaf)!;
  return { signatureKey, credential, capabilities, extensions };
}

/** A suite whose HPKE decryptions are counted. */
function counting(suite: CipherSuite): { suite: CipherSuite; opens: () => number } {
  let n = 0;
  return {
    suite: {
      ...suite,
      hpkeOpen: (...args) => {
        n++;
        return suite.hpkeOpen(...args);
      },
    },
    opens: () => n,
  };
}

function groupContextBase(
  suite: number,
  groupId: Uint8Array,
  epoch: bigint,
  cth: Uint8Array,
): Omit<GroupContext, 'treeHash'> {
  return { version: 1, cipherSuite: suite, groupId, epoch, confirmedTranscriptHash: cth, extensions: [] };
}

const vectors = loadMlsVectors<TreeKemVector>('treekem');
const supported = vectors.filter((v) => isSupportedCipherSuite(v.cipher_suite));

/** All local members but the sender behind one gateway: one HPKE decryption, same commit secret. */
function expectGatewayDecap(
  suite: CipherSuite,
  opens: () => number,
  tree: RatchetTree,
  sender: number,
  updatePath: UpdatePath,
  privates: Map<number, Map<NodeIndex, KeyPair>>,
  groupContext: GroupContext,
  commitSecret: string,
): void {
  const all = new Map<NodeIndex, KeyPair>();
  for (const [j, keys] of privates) if (j !== sender) for (const [x, kp] of keys) all.set(x, kp);
  const before = opens();
  const out = decryptUpdatePath({ suite, tree, leaf: sender, updatePath, privateKeys: all, groupContext });
  expect(opens() - before).toBe(1);
  expect(toHex(out.commitSecret)).toBe(commitSecret);
  expect(out.decryptedAt).toBe(tree.filteredDirectPath(sender)[0]);
}

describe('treekem vectors', () => {
  const tally = new VectorTally('treekem');
  afterAll(() => tally.report());

  // One test per vector: the slow suites (P-521, X448) take seconds each.
  it.each(vectors.map((v, n) => [n, v.cipher_suite, v] as const))(
    '#%i (suite %i): decaps each update path for each leaf and all at once, merges, encaps from each leaf',
    (_n, id, v) => {
      if (!isSupportedCipherSuite(id)) {
        tally.skip(`cipher suite ${id} not implemented`);
        return;
      }
      const { suite, opens } = counting(cipherSuiteById(v.cipher_suite));
      const groupId = hex(v.group_id);
      const tree = RatchetTree.fromBytes(hex(v.ratchet_tree));
      const base = groupContextBase(v.cipher_suite, groupId, BigInt(v.epoch), hex(v.confirmed_transcript_hash));
      const privates = new Map(v.leaves_private.map((l) => [l.index, leafPrivateKeys(suite, tree, l)]));
      const signers = new Map(v.leaves_private.map((l) => [l.index, hex(l.signature_priv)]));

      for (const u of v.update_paths) {
        const i = u.sender;
        // Decap the vector's path, for each leaf alone and for all of them behind one gateway.
        const updatePath = decodeAll(hex(u.update_path), updatePathCodec);
        const merged = tree.clone();
        mergeUpdatePath(suite, merged, i, updatePath, groupId);
        expect(toHex(treeHash(suite, merged))).toBe(u.tree_hash_after);
        const groupContext: GroupContext = { ...base, treeHash: treeHash(suite, merged) };
        for (const [j, keys] of privates) {
          if (j === i) continue;
          const out = decryptUpdatePath({ suite, tree: merged, leaf: i, updatePath, privateKeys: keys, groupContext });
          expect(toHex(out.pathSecrets.get(out.decryptedAt)!)).toBe(u.path_secrets[j]);
          expect(toHex(out.commitSecret)).toBe(u.commit_secret);
        }
        if (privates.size > 1) {
          expectGatewayDecap(suite, opens, merged, i, updatePath, privates, groupContext, u.commit_secret);
        }

        // Encap from leaf i; every other leaf decaps it, and the merged tree is valid throughout.
        const mine = tree.clone();
        const created = createUpdatePath({
          suite,
          tree: mine,
          leaf: i,
          leafFields: leafFields(tree, i),
          signaturePrivateKey: signers.get(i)!,
          groupContext: base,
        });
        const theirs = tree.clone();
        mergeUpdatePath(suite, theirs, i, created.updatePath, groupId);
        expect(toHex(theirs.toBytes())).toBe(toHex(mine.toBytes()));
        expect(toHex(treeHash(suite, theirs))).toBe(toHex(created.groupContext.treeHash));
        validateRatchetTree(suite, theirs, { groupId, treeHash: created.groupContext.treeHash });
        for (const [j, keys] of privates) {
          if (j === i) continue;
          const out = decryptUpdatePath({
            suite,
            tree: theirs,
            leaf: i,
            updatePath: created.updatePath,
            privateKeys: keys,
            groupContext: created.groupContext,
          });
          expect(toHex(out.commitSecret)).toBe(toHex(created.commitSecret));
          expect(toHex(out.pathSecrets.get(out.decryptedAt)!)).toBe(toHex(created.pathSecrets.get(out.decryptedAt)!));
        }
      }
      tally.pass();
    },
  );

  it('checked every vector of the supported suites', () => {
    expect(tally.passed).toBe(supported.length);
  });
});

describe('treekem', () => {
  // An 8-leaf vector of suite 1 with every leaf's private state.
  const v = supported.find((x) => x.cipher_suite === 1 && x.leaves_private.length === 8)!;
  const suite = cipherSuiteById(1);
  const groupId = hex(v.group_id);
  const base = groupContextBase(1, groupId, 1n, new Uint8Array(32));
  const tree = (): RatchetTree => RatchetTree.fromBytes(hex(v.ratchet_tree));
  const privates = new Map(v.leaves_private.map((l) => [l.index, leafPrivateKeys(suite, tree(), l)]));
  const signer = (leaf: number): Uint8Array => hex(v.leaves_private.find((l) => l.index === leaf)!.signature_priv);

  function commitFrom(leaf: number) {
    const mine = tree();
    const created = createUpdatePath({
      suite,
      tree: mine,
      leaf,
      leafFields: leafFields(mine, leaf),
      signaturePrivateKey: signer(leaf),
      groupContext: base,
    });
    const theirs = tree();
    mergeUpdatePath(suite, theirs, leaf, created.updatePath, groupId);
    return { created, theirs };
  }

  function failureOf(f: () => unknown): string | undefined {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(MlsProtocolError);
      return (e as MlsProtocolError).failure;
    }
    return undefined;
  }

  it('decap without a usable key is notFound; stale keys (another public key) do not count', () => {
    const { created, theirs } = commitFrom(0);
    const decap = (privateKeys: PrivateTreeKeys) => () =>
      decryptUpdatePath({
        suite,
        tree: theirs,
        leaf: 0,
        updatePath: created.updatePath,
        privateKeys,
        groupContext: created.groupContext,
      });
    expect(failureOf(decap(new Map()))).toBe('notFound');
    const stale = new Map([[2, { ...privates.get(1)!.get(2)!, publicKey: new Uint8Array(32) }]]);
    expect(failureOf(decap(stale))).toBe('notFound');
    // The committer's own keys are not in any copath resolution.
    expect(failureOf(decap(created.privateKeys))).toBe('notFound');
  });

  it('decap with a corrupted ciphertext or another context is decryptFailed', () => {
    const { created, theirs } = commitFrom(0);
    const decap = (updatePath: UpdatePath, groupContext: GroupContext) => () =>
      decryptUpdatePath({ suite, tree: theirs, leaf: 0, updatePath, privateKeys: privates.get(1)!, groupContext });
    expect(failureOf(decap(created.updatePath, { ...created.groupContext, epoch: 99n }))).toBe('decryptFailed');
    const path = structuredClone(created.updatePath);
    const ct = path.nodes[0]!.encryptedPathSecret[0]!.ciphertext;
    ct[0] = ct[0]! ^ 1;
    expect(failureOf(decap(path, created.groupContext))).toBe('decryptFailed');
  });

  it('decap rejects a public key the path secret does not derive, and a wrong ciphertext count', () => {
    const { created, theirs } = commitFrom(0);
    const decap = (updatePath: UpdatePath) => () =>
      decryptUpdatePath({
        suite,
        tree: theirs,
        leaf: 0,
        updatePath,
        privateKeys: privates.get(1)!,
        groupContext: created.groupContext,
      });
    const path = structuredClone(created.updatePath);
    path.nodes[1]!.encryptionKey = nodeKeyPair(suite, new Uint8Array(32)).publicKey;
    expect(failureOf(decap(path))).toBe('invalid');
    const short = structuredClone(created.updatePath);
    short.nodes[2]!.encryptedPathSecret.pop();
    expect(failureOf(decap(short))).toBe('invalid');
  });

  it('merge rejects a path made against another tree (parent hash), a bad signature, reused keys', () => {
    const { created } = commitFrom(0);
    const other = tree();
    other.updateLeaf(7, { ...other.leafNode(7)! }); // blanks nodes 13, 11, 7: other copath tree hashes
    expect(failureOf(() => mergeUpdatePath(suite, other, 0, created.updatePath, groupId))).toBe('invalid');
    expect(() => mergeUpdatePath(suite, tree(), 0, created.updatePath, groupId)).not.toThrow();
    const forged = structuredClone(created.updatePath);
    forged.leafNode.signature[0] = forged.leafNode.signature[0]! ^ 1;
    expect(failureOf(() => mergeUpdatePath(suite, tree(), 0, forged, groupId))).toBe('badSignature');
    expect(failureOf(() => mergeUpdatePath(suite, tree(), 1, created.updatePath, groupId))).toBe('badSignature');
    const reused = structuredClone(created.updatePath);
    reused.nodes[0]!.encryptionKey = tree().leafNode(5)!.encryptionKey;
    expect(failureOf(() => mergeUpdatePath(suite, tree(), 0, reused, groupId))).toBe('invalid');
  });

  it('leaves out excluded (new) leaves and gives them the path secret of the common ancestor', () => {
    const t = tree();
    const old = t.leafNode(6)!;
    t.removeLeaf(6); // blanks 12 and its direct path 13, 11, 7
    const joiner = t.addLeaf(old);
    expect(joiner).toBe(6);
    const created = createUpdatePath({
      suite,
      tree: t,
      leaf: 0,
      leafFields: leafFields(t, 0),
      signaturePrivateKey: signer(0),
      groupContext: base,
      excludedLeaves: [joiner],
    });
    expect(t.filteredDirectPath(0)).toEqual([1, 3, 7]);
    // Node 7's copath child 11 is blank: its resolution is 9, 12, 14; the joiner (12) is left out.
    expect(t.resolution(11)).toEqual([9, 12, 14]);
    expect(created.updatePath.nodes[2]!.encryptedPathSecret).toHaveLength(2);
    const secret = pathSecretForJoiner(0, joiner, created.pathSecrets);
    expect(toHex(secret)).toBe(toHex(created.pathSecrets.get(7)!));
    const joined = joinerPathKeys(suite, t, 0, joiner, secret);
    expect([...joined.privateKeys.keys()]).toEqual([7]);
    expect(toHex(joined.privateKeys.get(7)!.publicKey)).toBe(toHex(t.parentNode(7)!.encryptionKey));
    expect(() => joinerPathKeys(suite, t, 0, joiner, new Uint8Array(32))).toThrow(/does not match/);
    // Another member decaps with the same exclusion.
    const out = decryptUpdatePath({
      suite,
      tree: t,
      leaf: 0,
      updatePath: created.updatePath,
      privateKeys: privates.get(7)!,
      groupContext: created.groupContext,
      excludedLeaves: [joiner],
    });
    expect(toHex(out.commitSecret)).toBe(toHex(created.commitSecret));
  });

  it('reconcilePrivateKeys keeps only keys the tree still has', () => {
    const { created, theirs } = commitFrom(0);
    const gateway = new Map([...privates.get(1)!, ...privates.get(4)!]);
    const out = decryptUpdatePath({
      suite,
      tree: theirs,
      leaf: 0,
      updatePath: created.updatePath,
      privateKeys: gateway,
      groupContext: created.groupContext,
    });
    expect(out.decryptedAt).toBe(1);
    const kept = reconcilePrivateKeys(theirs, gateway, out.privateKeys);
    // Leaves 1 and 4 and nodes 9, 11 stay; the old keys of nodes 1, 3, 7 give way to the new path's.
    expect([...kept.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 7, 8, 9, 11]);
    for (const x of [1, 3, 7]) expect(toHex(kept.get(x)!.publicKey)).toBe(toHex(theirs.parentNode(x)!.encryptionKey));
  });
});
