import { decodeAll, encodeValue, opaque } from '../../../codec/tls-codec';
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../../test/support/mls-vectors';
import { CredentialType } from './basics';
import {
  keyPackageCodec,
  keyPackageTbsCodec,
  leafNodeCodec,
  leafNodeData,
  leafNodeTbsCodec,
  LeafNodeSource,
  NodeType,
  ratchetTreeCodec,
  type LeafNode,
} from './tree';

interface MessagesVector {
  ratchet_tree: string;
  mls_key_package: string;
  add_proposal: string;
  update_proposal: string;
}

/** The tree structs alone, on the `messages` vectors' fields that hold nothing else. */
describe('tree structs on messages vectors', () => {
  const vectors = loadMlsVectors<MessagesVector>('messages');
  const tally = new VectorTally('messages (tree structs: ratchet_tree, key_package, add, update)');
  afterAll(() => tally.report());

  it('decodes and re-encodes byte for byte', () => {
    for (const v of vectors) {
      const tree = decodeAll(hex(v.ratchet_tree), ratchetTreeCodec);
      expect(toHex(encodeValue(tree, ratchetTreeCodec))).toBe(v.ratchet_tree);
      expect(tree.some((n) => n?.nodeType === NodeType.leaf)).toBe(true);

      // MLSMessage header: version mls10 (0x0001), wire_format mls_key_package (0x0005).
      expect(v.mls_key_package.slice(0, 8)).toBe('00010005');
      const kpHex = v.mls_key_package.slice(8);
      const kp = decodeAll(hex(kpHex), keyPackageCodec);
      expect(toHex(encodeValue(kp, keyPackageCodec))).toBe(kpHex);
      const tbs = encodeValue(kp, keyPackageTbsCodec);
      expect(toHex(tbs) + toHex(encodeValue(kp.signature, opaque))).toBe(kpHex);

      const add = decodeAll(hex(v.add_proposal), keyPackageCodec);
      expect(toHex(encodeValue(add, keyPackageCodec))).toBe(v.add_proposal);
      const upd = decodeAll(hex(v.update_proposal), leafNodeCodec);
      expect(toHex(encodeValue(upd, leafNodeCodec))).toBe(v.update_proposal);
      tally.pass();
    }
    expect(tally.passed).toBe(vectors.length);
  });
});

describe('LeafNodeTBS', () => {
  const base: LeafNode = {
    encryptionKey: new Uint8Array([1, 2]),
    signatureKey: new Uint8Array([3]),
    credential: { credentialType: CredentialType.basic, identity: new Uint8Array([4]) },
    capabilities: { versions: [1], cipherSuites: [1], extensions: [], proposals: [], credentials: [1] },
    leafNodeSource: LeafNodeSource.update,
    extensions: [],
    signature: new Uint8Array([9, 9]),
  };

  it('appends group_id and leaf_index for update/commit sources', () => {
    const leaf = encodeValue(base, leafNodeCodec);
    const tbs = encodeValue(
      { leafNode: leafNodeData(base), binding: { groupId: new Uint8Array([7, 7]), leafIndex: 5 } },
      leafNodeTbsCodec,
    );
    // leaf = data || 02 0909 ; tbs = data || 02 0707 || 00000005
    expect(toHex(tbs)).toBe(toHex(leaf).slice(0, -6) + '020707' + '00000005');
    const back = decodeAll(tbs, leafNodeTbsCodec);
    expect(back.binding?.leafIndex).toBe(5);
  });

  it('refuses a missing binding for update and a binding for key_package', () => {
    expect(() => encodeValue({ leafNode: leafNodeData(base) }, leafNodeTbsCodec)).toThrow(/required/);
    const kpLeaf: LeafNode = {
      ...base,
      leafNodeSource: LeafNodeSource.key_package,
      lifetime: { notBefore: 0n, notAfter: 1n },
    };
    expect(() =>
      encodeValue(
        { leafNode: leafNodeData(kpLeaf), binding: { groupId: new Uint8Array(), leafIndex: 0 } },
        leafNodeTbsCodec,
      ),
    ).toThrow(/not allowed/);
    expect(
      decodeAll(encodeValue({ leafNode: leafNodeData(kpLeaf) }, leafNodeTbsCodec), leafNodeTbsCodec).binding,
    ).toBeUndefined();
  });
});
