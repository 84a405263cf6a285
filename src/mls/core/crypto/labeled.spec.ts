/** Crypto basics (RFC 9420 §5, §8): the working group's crypto-basics vectors. */
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../../test/support/mls-vectors';
import {
  decryptWithLabel,
  deriveSecret,
  deriveTreeSecret,
  encryptWithLabel,
  expandWithLabel,
  refHash,
  signWithLabel,
  verifyWithLabel,
} from './labeled';
import { cipherSuiteById, isSupportedCipherSuite } from './suites';

interface CryptoBasicsVector {
  cipher_suite: number;
  ref_hash: { label: string; value: string; out: string };
  expand_with_label: { secret: string; label: string; context: string; length: number; out: string };
  derive_secret: { secret: string; label: string; out: string };
  derive_tree_secret: { secret: string; label: string; generation: number; length: number; out: string };
  sign_with_label: { priv: string; pub: string; content: string; label: string; signature: string };
  encrypt_with_label: {
    priv: string;
    pub: string;
    label: string;
    context: string;
    plaintext: string;
    kem_output: string;
    ciphertext: string;
  };
}

const vectors = loadMlsVectors<CryptoBasicsVector>('crypto-basics');
const tally = new VectorTally('crypto-basics');

afterAll(() => {
  tally.report();
});

describe('crypto-basics vectors', () => {
  for (const v of vectors) {
    if (!isSupportedCipherSuite(v.cipher_suite)) {
      tally.skip(`cipher suite ${v.cipher_suite} not implemented`);
      continue;
    }
    it(`cipher suite ${v.cipher_suite}`, () => {
      const suite = cipherSuiteById(v.cipher_suite);
      const r = v.ref_hash;
      expect(toHex(refHash(suite, r.label, hex(r.value)))).toBe(r.out);

      const e = v.expand_with_label;
      expect(toHex(expandWithLabel(suite, hex(e.secret), e.label, hex(e.context), e.length))).toBe(e.out);

      const d = v.derive_secret;
      expect(toHex(deriveSecret(suite, hex(d.secret), d.label))).toBe(d.out);

      const t = v.derive_tree_secret;
      expect(toHex(deriveTreeSecret(suite, hex(t.secret), t.label, t.generation, t.length))).toBe(t.out);

      const s = v.sign_with_label;
      expect(verifyWithLabel(suite, hex(s.pub), s.label, hex(s.content), hex(s.signature))).toBe(true);
      const mine = signWithLabel(suite, hex(s.priv), s.label, hex(s.content));
      expect(verifyWithLabel(suite, hex(s.pub), s.label, hex(s.content), mine)).toBe(true);
      const tampered = hex(s.content);
      tampered[0] = tampered[0]! ^ 1;
      expect(verifyWithLabel(suite, hex(s.pub), s.label, tampered, mine)).toBe(false);
      expect(verifyWithLabel(suite, hex(s.pub), 'other label', hex(s.content), mine)).toBe(false);

      const x = v.encrypt_with_label;
      const pt = decryptWithLabel(suite, hex(x.priv), x.label, hex(x.context), hex(x.kem_output), hex(x.ciphertext));
      expect(toHex(pt)).toBe(x.plaintext);
      const sealed = encryptWithLabel(suite, hex(x.pub), x.label, hex(x.context), hex(x.plaintext));
      const back = decryptWithLabel(suite, hex(x.priv), x.label, hex(x.context), sealed.kemOutput, sealed.ciphertext);
      expect(toHex(back)).toBe(x.plaintext);
      expect(() =>
        decryptWithLabel(suite, hex(x.priv), 'wrong', hex(x.context), sealed.kemOutput, sealed.ciphertext),
      ).toThrow(expect.objectContaining({ failure: 'decryptFailed' }));
      tally.pass();
    });
  }

  it('checked every vector of a supported suite', () => {
    const supported = vectors.filter((v) => isSupportedCipherSuite(v.cipher_suite)).length;
    expect(tally.passed).toBeGreaterThan(0);
    expect(tally.passed).toBe(supported);
  });
});
