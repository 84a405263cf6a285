/** The secret tree (RFC 9420 §9): the working group's secret-tree vectors and the ratchet window. */
import { TlsWriter } from '../../codec/tls-codec';
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../test/support/mls-vectors';
import { cipherSuiteById, isSupportedCipherSuite } from './crypto/suites';
import { SecretTree, senderDataKeyNonce, type RatchetType } from './secret-tree';

interface SecretTreeVector {
  cipher_suite: number;
  sender_data: { sender_data_secret: string; ciphertext: string; key: string; nonce: string };
  encryption_secret: string;
  leaves: {
    generation: number;
    handshake_key: string;
    handshake_nonce: string;
    application_key: string;
    application_nonce: string;
  }[][];
}

const vectors = loadMlsVectors<SecretTreeVector>('secret-tree');
const tally = new VectorTally('secret-tree');

afterAll(() => {
  tally.report();
});

describe('secret-tree vectors', () => {
  for (const v of vectors) {
    if (!isSupportedCipherSuite(v.cipher_suite)) {
      tally.skip(`cipher suite ${v.cipher_suite} not implemented`);
      continue;
    }
    it(`cipher suite ${v.cipher_suite}, ${v.leaves.length} leaves`, () => {
      const suite = cipherSuiteById(v.cipher_suite);
      const sd = v.sender_data;
      const sdk = senderDataKeyNonce(suite, hex(sd.sender_data_secret), hex(sd.ciphertext));
      expect([toHex(sdk.key), toHex(sdk.nonce)]).toEqual([sd.key, sd.nonce]);

      const tree = SecretTree.create(suite, hex(v.encryption_secret), v.leaves.length);
      v.leaves.forEach((gens, leaf) => {
        for (const g of gens) {
          const hs = tree.key(leaf, 'handshake', g.generation);
          const app = tree.key(leaf, 'application', g.generation);
          expect([leaf, g.generation, toHex(hs.key), toHex(hs.nonce), toHex(app.key), toHex(app.nonce)]).toEqual([
            leaf,
            g.generation,
            g.handshake_key,
            g.handshake_nonce,
            g.application_key,
            g.application_nonce,
          ]);
        }
      });
      tally.pass();
    });
  }

  it('checked every vector of a supported suite', () => {
    expect(tally.passed).toBeGreaterThan(0);
    expect(tally.passed).toBe(vectors.filter((v) => isSupportedCipherSuite(v.cipher_suite)).length);
  });
});

describe('SecretTree', () => {
  const suite = cipherSuiteById(1);
  const secret = hex('5a'.repeat(32));
  const type: RatchetType = 'application';
  const expectFailure = (f: () => unknown, failure: string): void => {
    expect(f).toThrow(expect.objectContaining({ failure }));
  };

  it('a sender and a receiver agree, and used keys are gone', () => {
    const alice = SecretTree.create(suite, secret, 5);
    const bob = SecretTree.create(suite, secret, 5);
    const sent = [alice.next(3, type), alice.next(3, type), alice.next(3, type)];
    expect(sent.map((k) => k.generation)).toEqual([0, 1, 2]);
    // Out of order: 2, then 0, then 1.
    for (const g of [2, 0, 1]) {
      const k = bob.use(3, type, g, (key) => key);
      expect(k).toEqual(sent[g]);
    }
    expectFailure(() => bob.key(3, type, 1), 'outOfWindow');
    expect(bob.leafState(3)!.application.skipped).toEqual([]);
    // Handshake and application ratchets are independent.
    expect(bob.key(3, 'handshake', 0).key).not.toEqual(sent[0]!.key);
  });

  it('a failed decryption keeps the key', () => {
    const tree = SecretTree.create(suite, secret, 2);
    expect(() =>
      tree.use(1, type, 4, () => {
        throw new Error('bad tag');
      }),
    ).toThrow('bad tag');
    expect(tree.key(1, type, 4).generation).toBe(4);
  });

  it('a forged far-ahead generation does not move the ratchet', () => {
    const tree = SecretTree.create(suite, secret, 2, { maxSkipped: 4 });
    expect(() =>
      tree.use(1, type, 900, () => {
        throw new Error('bad tag');
      }),
    ).toThrow('bad tag');
    expect(tree.leafState(1)!.application.generation).toBe(0);
    expect(tree.use(1, type, 0, (k) => k.generation)).toBe(0);
    expect(tree.leafState(1)!.application).toMatchObject({ generation: 1, skipped: [] });
  });

  it('bounds the window forward and backward', () => {
    const tree = SecretTree.create(suite, secret, 2, { maxForward: 10, maxSkipped: 3 });
    expectFailure(() => tree.key(0, type, 11), 'outOfWindow');
    tree.key(0, type, 10);
    expect(tree.leafState(0)!.application.skipped.map((k) => k.generation)).toEqual([8, 9, 10]);
    expectFailure(() => tree.key(0, type, 7), 'outOfWindow');
    expectFailure(() => tree.key(2, type, 0), 'notFound');
  });

  it('expands lazily and drops expanded node secrets', () => {
    const tree = SecretTree.create(suite, secret, 8);
    expect(tree.nodeSecretCount).toBe(1);
    tree.next(0, type);
    // Root expanded down to leaf 0: siblings 2, 5 and 11 remain.
    expect(tree.nodeSecretCount).toBe(3);
    tree.next(1, type);
    expect(tree.nodeSecretCount).toBe(2);
  });

  it('saves and restores incrementally, loading leaves on demand', () => {
    const reference = SecretTree.create(suite, secret, 6);
    const tree = SecretTree.create(suite, secret, 6);
    tree.next(2, type);
    tree.key(4, type, 3);
    const changes = tree.takeChanges();
    expect(changes).toEqual({ nodes: true, leaves: [2, 4] });
    const nodes = tree.exportNodes();
    const saved = new Map(changes.leaves.map((l) => [l, tree.exportLeaf(l)!]));
    expect(saved.get(2)!.length).toBeLessThan(100);

    let loads = 0;
    const restored = SecretTree.restore(suite, nodes, {}, [], (leaf) => {
      loads++;
      return saved.get(leaf);
    });
    expect(restored.next(2, type)).toEqual(reference.key(2, type, 1));
    expect(restored.key(4, type, 1)).toEqual(reference.key(4, type, 1));
    expect(restored.key(5, type, 0)).toEqual(reference.key(5, type, 0));
    expect(loads).toBe(3);
    expect(restored.takeChanges()).toEqual({ nodes: true, leaves: [2, 5] });
    expect(tree.takeChanges()).toEqual({ nodes: false, leaves: [] });
  });

  it('in-order receipt (the fast path of `use`) ends where key + consume end, window full or not', () => {
    for (const maxSkipped of [2, 64]) {
      const sender = SecretTree.create(suite, secret, 4);
      const fast = SecretTree.create(suite, secret, 4, { maxSkipped });
      const general = SecretTree.create(suite, secret, 4, { maxSkipped });
      const sent = Array.from({ length: 8 }, () => sender.next(1, type));
      // Keys of 0 and 1 looked up, not used: they wait in the window (full when maxSkipped is 2).
      for (const t of [fast, general]) t.key(1, type, 1);
      for (const g of [2, 3, 4, 5, 6, 7]) {
        expect(toHex(fast.use(1, type, g, (k) => k.key))).toBe(toHex(sent[g]!.key));
        expect(toHex(general.key(1, type, g).nonce)).toBe(toHex(sent[g]!.nonce));
        general.consume(1, type, g);
      }
      expect(toHex(fast.exportLeaf(1)!)).toBe(toHex(general.exportLeaf(1)!));
      expect(fast.leafState(1)!.application.generation).toBe(8);
    }
  });

  it('a saved leaf row has the layout it always had (version, leaf, two ratchets with their skipped keys)', () => {
    const tree = SecretTree.create(suite, secret, 4);
    tree.key(2, type, 3);
    tree.next(2, 'handshake');
    const r = tree.leafState(2)!;
    const w = new TlsWriter();
    w.uint8(1);
    w.uint32(2);
    for (const ratchet of [r.handshake, r.application]) {
      w.uint32(ratchet.generation);
      w.opaque(ratchet.secret);
      w.varint(ratchet.skipped.length);
      for (const k of ratchet.skipped) {
        w.uint32(k.generation);
        w.opaque(k.key);
        w.opaque(k.nonce);
      }
    }
    expect(r.application.skipped).toHaveLength(4);
    expect(toHex(tree.exportLeaf(2)!)).toBe(toHex(w.finish()));
  });

  it('sender data key and nonce use at most KDF.Nh bytes of ciphertext', () => {
    const sds = hex('01'.repeat(32));
    const long = hex('ab'.repeat(40));
    expect(senderDataKeyNonce(suite, sds, long)).toEqual(senderDataKeyNonce(suite, sds, long.subarray(0, 32)));
    expect(senderDataKeyNonce(suite, sds, long.subarray(0, 5)).key).toHaveLength(16);
  });
});

describe('SecretTree.prepare', () => {
  const suite = cipherSuiteById(1);
  const secret = new Uint8Array(32).fill(7);

  it('derives the same keys as the lazy path, and is no change to save', () => {
    const lazy = SecretTree.create(suite, secret, 16);
    const prepared = SecretTree.create(suite, secret, 16);
    prepared.takeChanges();
    prepared.prepare([3, 9, 15, 99, -1]);
    expect(prepared.takeChanges()).toEqual({ nodes: true, leaves: [] });
    expect(prepared.exportLeaf(3)).toBeDefined();
    expect(prepared.exportLeaf(99)).toBeUndefined();
    for (const leaf of [3, 9, 15, 4]) {
      const [a, b] = [lazy.next(leaf, 'application'), prepared.next(leaf, 'application')];
      expect(toHex(b.key)).toBe(toHex(a.key));
      expect(toHex(b.nonce)).toBe(toHex(a.nonce));
    }
    expect(prepared.takeChanges().leaves).toEqual([3, 4, 9, 15]);
  });

  it('a prepared tree restored from its saved rows gives the next generation again', () => {
    const tree = SecretTree.create(suite, secret, 8);
    tree.prepare([2]);
    tree.next(2, 'application');
    const rows = tree.takeChanges().leaves.map((l) => tree.exportLeaf(l)!);
    const restored = SecretTree.restore(suite, SecretTree.create(suite, secret, 8).exportNodes(), {}, rows);
    expect(toHex(restored.next(2, 'application').key)).toBe(toHex(tree.next(2, 'application').key));
  });
});
