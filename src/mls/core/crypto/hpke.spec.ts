/**
 * HPKE (RFC 9180 base mode) and the cipher suites 1-7: RFC 9180 test vector A.1, DeriveKeyPair
 * vectors (X25519, P-256, P-521), per-suite sizes, round trips and tamper checks.
 */
import { toHex, hex } from '../../../../test/support/mls-vectors';
import { AES_128_GCM, AES_256_GCM } from './aead';
import { CipherSuiteId } from './cipher-suite';
import { Hpke } from './hpke';
import { HKDF_SHA256, HKDF_SHA512 } from './kdf';
import {
  DHKEM_P256_HKDF_SHA256,
  DHKEM_P384_HKDF_SHA384,
  DHKEM_P521_HKDF_SHA512,
  DHKEM_X25519_HKDF_SHA256,
  DHKEM_X448_HKDF_SHA512,
  type Kem,
} from './kem';
import { KeyObjectCache } from './keys';
import { cipherSuiteById, isSupportedCipherSuite, supportedCipherSuites } from './suites';
import { createPublicKey } from 'node:crypto';

const decryptFailed = expect.objectContaining({ name: 'MlsProtocolError', failure: 'decryptFailed' });

describe('RFC 9180 A.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, mode_base', () => {
  const hpke = new Hpke(DHKEM_X25519_HKDF_SHA256, HKDF_SHA256, AES_128_GCM);
  const info = hex('4f6465206f6e2061204772656369616e2055726e');
  const eph = DHKEM_X25519_HKDF_SHA256.deriveKeyPair(
    hex('7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234'),
  );
  const recipient = DHKEM_X25519_HKDF_SHA256.deriveKeyPair(
    hex('6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037'),
  );
  const pt = hex('4265617574792069732074727574682c20747275746820626561757479');
  const aad = hex('436f756e742d30');
  const ct = 'f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a';

  it('DeriveKeyPair', () => {
    expect(toHex(eph.publicKey)).toBe('37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431');
    expect(toHex(recipient.privateKey)).toBe('4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8');
  });

  it('key schedule, sequence 0 and exports', () => {
    const { enc, context } = hpke.setupBaseS(recipient.publicKey, info, eph);
    expect(toHex(enc)).toBe(toHex(eph.publicKey));
    expect(toHex(context.key)).toBe('4531685d41d65f03dc48f6b8302c05b0');
    expect(toHex(context.baseNonce)).toBe('56d890e5accaaf011cff4b7d');
    expect(toHex(context.exporterSecret)).toBe('45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8');
    expect(toHex(hpke.seal(recipient.publicKey, info, aad, pt, eph).ciphertext)).toBe(ct);
    expect(hpke.open(recipient.privateKey, enc, info, aad, hex(ct))).toEqual(pt);
    const exports: [string, string][] = [
      ['', '3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee'],
      ['00', '2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5'],
      ['54657374436f6e74657874', 'e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931'],
    ];
    for (const [ctx, want] of exports) {
      expect(toHex(hpke.export(context, hex(ctx), 32))).toBe(want);
      expect(toHex(hpke.receiveExport(recipient.privateKey, enc, info, hex(ctx), 32))).toBe(want);
    }
  });
});

// DeriveKeyPair(ikmR) -> (skRm, pkRm) and DeriveKeyPair(ikmE) -> pkEm (= enc) from the RFC 9180
// test vectors (A.1 X25519, A.3 P-256, A.6 P-521; the P-521 ones exercise the 0x01 bitmask).
const deriveKeyPairVectors: [string, Kem, string, string, string, string, string][] = [
  [
    'DHKEM(X25519, HKDF-SHA256)',
    DHKEM_X25519_HKDF_SHA256,
    '7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234',
    '6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037',
    '4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8',
    '3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d',
    '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  ],
  [
    'DHKEM(P-256, HKDF-SHA256)',
    DHKEM_P256_HKDF_SHA256,
    '4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e',
    '668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550',
    'f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2',
    '04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4cf969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0',
    '04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4',
  ],
  [
    'DHKEM(P-521, HKDF-SHA512)',
    DHKEM_P521_HKDF_SHA512,
    '7f06ab8215105fc46aceeb2e3dc5028b44364f960426eb0d8e4026c2f8b5d7e7a986688f1591abf5ab753c357a5d6f0440414b4ed4ede71317772ac98d9239f70904',
    '2ad954bbe39b7122529f7dde780bff626cd97f850d0784a432784e69d86eccaade43b6c10a8ffdb94bf943c6da479db137914ec835a7e715e36e45e29b587bab3bf1',
    '01462680369ae375e4b3791070a7458ed527842f6a98a79ff5e0d4cbde83c27196a3916956655523a6a2556a7af62c5cadabe2ef9da3760bb21e005202f7b2462847',
    '0401b45498c1714e2dce167d3caf162e45e0642afc7ed435df7902ccae0e84ba0f7d373f646b7738bbbdca11ed91bdeae3cdcba3301f2457be452f271fa6837580e661012af49583a62e48d44bed350c7118c0d8dc861c238c72a2bda17f64704f464b57338e7f40b60959480c0e58e6559b190d81663ed816e523b6b6a418f66d2451ec64',
    '040138b385ca16bb0d5fa0c0665fbbd7e69e3ee29f63991d3e9b5fa740aab8900aaeed46ed73a49055758425a0ce36507c54b29cc5b85a5cee6bae0cf1c21f2731ece2013dc3fb7c8d21654bb161b463962ca19e8c654ff24c94dd2898de12051f1ed0692237fb02b2f8d1dc1c73e9b366b529eb436e98a996ee522aef863dd5739d2f29b0',
  ],
];

describe.each(deriveKeyPairVectors)('RFC 9180 DeriveKeyPair: %s', (_name, kem, ikmE, ikmR, skRm, pkRm, enc) => {
  it('gives the vector key pairs', () => {
    const r = kem.deriveKeyPair(hex(ikmR));
    expect(toHex(r.privateKey)).toBe(skRm);
    expect(toHex(r.publicKey)).toBe(pkRm);
    expect(toHex(kem.publicKeyOf(r.privateKey))).toBe(pkRm);
    expect(toHex(kem.deriveKeyPair(hex(ikmE)).publicKey)).toBe(enc);
  });
});

/** Nh, Nk, HPKE Npk / Nsk and signature key lengths of each suite (RFC 9180 §7, RFC 9420 §5.1). */
const suiteSizes: [number, number, number, number, number, number, number][] = [
  // id, Nh, Nk, HPKE public, HPKE private, signature public, signature private
  [1, 32, 16, 32, 32, 32, 32],
  [2, 32, 16, 65, 32, 65, 32],
  [3, 32, 32, 32, 32, 32, 32],
  [4, 64, 32, 56, 56, 57, 57],
  [5, 64, 32, 133, 66, 133, 66],
  [6, 64, 32, 56, 56, 57, 57],
  [7, 48, 32, 97, 48, 97, 48],
];

describe.each(suiteSizes)('suite %i sizes', (id, nh, nk, hpkePk, hpkeSk, sigPk, sigSk) => {
  const suite = cipherSuiteById(id);

  it('hash, KDF and AEAD lengths', () => {
    expect(suite.hashLength).toBe(nh);
    expect(suite.hash(hex('00'))).toHaveLength(nh);
    expect(suite.mac(hex('01'), hex('00'))).toHaveLength(nh);
    expect(suite.kdfExtract(new Uint8Array(0), hex('00'))).toHaveLength(nh);
    expect(suite.kdfExpand(new Uint8Array(nh), hex('00'), 3 * nh + 1)).toHaveLength(3 * nh + 1);
    expect(suite.aeadKeyLength).toBe(nk);
    expect(suite.aeadNonceLength).toBe(12);
  });

  it('HPKE and signature key lengths; derived and generated keys agree with publicKeyOf', () => {
    const derived = suite.hpkeDeriveKeyPair(hex('11'.repeat(nh)));
    const generated = suite.hpkeGenerateKeyPair();
    for (const kp of [derived, generated]) {
      expect(kp.privateKey).toHaveLength(hpkeSk);
      expect(kp.publicKey).toHaveLength(hpkePk);
    }
    const sig = suite.signatureGenerateKeyPair();
    expect(sig.privateKey).toHaveLength(sigSk);
    expect(sig.publicKey).toHaveLength(sigPk);
    expect(suite.hpkeSeal(derived.publicKey, hex(''), hex(''), hex('')).kemOutput).toHaveLength(hpkePk);
  });
});

describe.each(supportedCipherSuites.map((s) => [s.name, s] as const))('%s', (_name, suite) => {
  const info = hex('696e666f');
  const aad = hex('616164');
  const pt = new TextEncoder().encode('hello MLS');

  it('HPKE seal/open round trip; failures are decryptFailed', () => {
    const kp = suite.hpkeGenerateKeyPair();
    const { kemOutput, ciphertext } = suite.hpkeSeal(kp.publicKey, info, aad, pt);
    expect(suite.hpkeOpen(kp.privateKey, kemOutput, info, aad, ciphertext)).toEqual(pt);
    const bad = ciphertext.slice();
    bad[0] = bad[0]! ^ 1;
    expect(() => suite.hpkeOpen(kp.privateKey, kemOutput, info, aad, bad)).toThrow(decryptFailed);
    expect(() => suite.hpkeOpen(kp.privateKey, kemOutput, info, hex('00'), ciphertext)).toThrow(decryptFailed);
    const other = suite.hpkeGenerateKeyPair();
    expect(() => suite.hpkeOpen(other.privateKey, kemOutput, info, aad, ciphertext)).toThrow(decryptFailed);
    expect(() => suite.hpkeOpen(kp.privateKey, kemOutput.subarray(1), info, aad, ciphertext)).toThrow(decryptFailed);
    expect(() => suite.hpkeOpen(kp.privateKey, kemOutput, info, aad, ciphertext.subarray(0, 8))).toThrow(decryptFailed);
  });

  it('HPKE exporter: sender and receiver agree', () => {
    const kp = suite.hpkeDeriveKeyPair(hex('07'.repeat(32)));
    const { kemOutput, secret } = suite.hpkeExport(kp.publicKey, info, hex('0102'), 42);
    expect(secret).toHaveLength(42);
    expect(suite.hpkeExportReceiver(kp.privateKey, kemOutput, info, hex('0102'), 42)).toEqual(secret);
  });

  it('DeriveKeyPair is deterministic and gives a usable key pair', () => {
    const a = suite.hpkeDeriveKeyPair(hex('42'.repeat(32)));
    expect(suite.hpkeDeriveKeyPair(hex('42'.repeat(32)))).toEqual(a);
    expect(suite.hpkeDeriveKeyPair(hex('43'.repeat(32))).privateKey).not.toEqual(a.privateKey);
    const { kemOutput, ciphertext } = suite.hpkeSeal(a.publicKey, info, aad, pt);
    expect(suite.hpkeOpen(a.privateKey, kemOutput, info, aad, ciphertext)).toEqual(pt);
  });

  it('HPKE: an encapsulated key that is not a point or has the wrong length is decryptFailed', () => {
    const kp = suite.hpkeGenerateKeyPair();
    const { kemOutput, ciphertext } = suite.hpkeSeal(kp.publicKey, info, aad, pt);
    const garbage = new Uint8Array(kemOutput.length).fill(0xff);
    garbage[0] = kemOutput[0]!;
    expect(() => suite.hpkeOpen(kp.privateKey, garbage, info, aad, ciphertext)).toThrow(decryptFailed);
    const longer = new Uint8Array(kemOutput.length + 1);
    longer.set(kemOutput);
    expect(() => suite.hpkeOpen(kp.privateKey, longer, info, aad, ciphertext)).toThrow(decryptFailed);
    const tampered = kemOutput.slice();
    tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
    expect(() => suite.hpkeOpen(kp.privateKey, tampered, info, aad, ciphertext)).toThrow(decryptFailed);
    expect(() => suite.hpkeOpen(kp.privateKey, kemOutput, hex('00'), aad, ciphertext)).toThrow(decryptFailed);
  });

  it('AEAD: wrong key, nonce or aad and a short ciphertext are decryptFailed', () => {
    const key = suite.randomBytes(suite.aeadKeyLength);
    const nonce = suite.randomBytes(suite.aeadNonceLength);
    const ct = suite.aeadSeal(key, nonce, aad, pt);
    const flip = (b: Uint8Array): Uint8Array => {
      const c = b.slice();
      c[0] = c[0]! ^ 1;
      return c;
    };
    expect(() => suite.aeadOpen(flip(key), nonce, aad, ct)).toThrow(decryptFailed);
    expect(() => suite.aeadOpen(key, flip(nonce), aad, ct)).toThrow(decryptFailed);
    expect(() => suite.aeadOpen(key, nonce, flip(aad), ct)).toThrow(decryptFailed);
    expect(() => suite.aeadOpen(key, nonce, aad, flip(ct))).toThrow(decryptFailed);
    expect(() => suite.aeadOpen(key, nonce, aad, ct.subarray(0, 15))).toThrow(decryptFailed);
  });

  it('signatures from a raw private key verify under the matching raw public key only', () => {
    const a = suite.signatureGenerateKeyPair();
    const b = suite.signatureGenerateKeyPair();
    const msg = suite.randomBytes(100);
    expect(suite.verify(a.publicKey, msg, suite.sign(a.privateKey, msg))).toBe(true);
    expect(suite.verify(b.publicKey, msg, suite.sign(a.privateKey, msg))).toBe(false);
    expect(suite.verify(a.publicKey, msg, suite.sign(b.privateKey, msg))).toBe(false);
  });

  it('AEAD round trip; a wrong tag is decryptFailed', () => {
    const key = suite.randomBytes(suite.aeadKeyLength);
    const nonce = suite.randomBytes(suite.aeadNonceLength);
    const ct = suite.aeadSeal(key, nonce, aad, pt);
    expect(ct).toHaveLength(pt.length + 16);
    expect(suite.aeadOpen(key, nonce, aad, ct)).toEqual(pt);
    ct[ct.length - 1] = ct[ct.length - 1]! ^ 1;
    expect(() => suite.aeadOpen(key, nonce, aad, ct)).toThrow(decryptFailed);
  });

  it('signatures verify, and not after tampering or with a bad key', () => {
    const kp = suite.signatureGenerateKeyPair();
    const msg = hex('deadbeef');
    const sig = suite.sign(kp.privateKey, msg);
    expect(suite.verify(kp.publicKey, msg, sig)).toBe(true);
    expect(suite.verify(kp.publicKey, hex('deadbeee'), sig)).toBe(false);
    const badSig = sig.slice();
    badSig[badSig.length - 2] = badSig[badSig.length - 2]! ^ 1;
    expect(suite.verify(kp.publicKey, msg, badSig)).toBe(false);
    expect(suite.verify(suite.signatureGenerateKeyPair().publicKey, msg, sig)).toBe(false);
    expect(suite.verify(kp.publicKey.subarray(1), msg, sig)).toBe(false);
    expect(suite.verify(kp.publicKey, msg, new Uint8Array(0))).toBe(false);
  });
});

describe('suites', () => {
  it('suites 1 to 7 are supported, by their IANA names; others are unsupported', () => {
    for (const [name, id] of Object.entries(CipherSuiteId)) {
      expect(isSupportedCipherSuite(id)).toBe(true);
      expect(cipherSuiteById(id).name).toBe(name);
    }
    expect(supportedCipherSuites.map((s) => s.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (const id of [0, 8, 0xf0f0]) {
      expect(isSupportedCipherSuite(id)).toBe(false);
      expect(() => cipherSuiteById(id)).toThrow(expect.objectContaining({ failure: 'unsupported' }));
    }
  });

  it('P-256 keys are a 32-byte scalar and an uncompressed point on the curve', () => {
    const kp = DHKEM_P256_HKDF_SHA256.deriveKeyPair(hex('00'.repeat(32)));
    expect(kp.privateKey).toHaveLength(32);
    expect(kp.publicKey).toHaveLength(65);
    expect(kp.publicKey[0]).toBe(4);
    expect(DHKEM_P256_HKDF_SHA256.publicKeyOf(kp.privateKey)).toEqual(kp.publicKey);
  });

  it.each([2, 5, 7])('ECDSA signatures of suite %i are DER SEQUENCE { r, s }', (id) => {
    const suite = cipherSuiteById(id);
    const sig = suite.sign(suite.signatureGenerateKeyPair().privateKey, hex('00'));
    expect(sig[0]).toBe(0x30);
    // P-521 signatures exceed 127 bytes: long-form length 0x81 nn.
    const [len, hdr] = sig[1]! === 0x81 ? [sig[2]!, 3] : [sig[1]!, 2];
    expect(len).toBe(sig.length - hdr);
    expect(sig[hdr]).toBe(0x02);
  });

  it.each([4, 6])('Ed448 signatures of suite %i are 114 bytes and deterministic', (id) => {
    const suite = cipherSuiteById(id);
    const kp = suite.signatureGenerateKeyPair();
    const sig = suite.sign(kp.privateKey, hex('00'));
    expect(sig).toHaveLength(114);
    expect(suite.sign(kp.privateKey, hex('00'))).toEqual(sig);
  });

  it('the KEM of an HPKE suite and the suite KDF are separate parameters', () => {
    // DHKEM(P-256, HKDF-SHA256) under HKDF-SHA512: a 32-byte shared secret, a 64-byte exporter secret.
    const hpke = new Hpke(DHKEM_P256_HKDF_SHA256, HKDF_SHA512, AES_256_GCM);
    const kp = DHKEM_P256_HKDF_SHA256.deriveKeyPair(hex('05'.repeat(32)));
    const { enc, context } = hpke.setupBaseS(kp.publicKey, hex('01'));
    expect(DHKEM_P256_HKDF_SHA256.decap(enc, kp.privateKey)).toHaveLength(32);
    expect(context.key).toHaveLength(32);
    expect(context.exporterSecret).toHaveLength(64);
    const { ciphertext } = hpke.seal(kp.publicKey, hex('01'), hex('02'), hex('0304'));
    expect(() => hpke.open(kp.privateKey, enc, hex('01'), hex('02'), ciphertext)).toThrow(decryptFailed);
    const sealed = hpke.seal(kp.publicKey, hex('01'), hex('02'), hex('0304'));
    expect(hpke.open(kp.privateKey, sealed.enc, hex('01'), hex('02'), sealed.ciphertext)).toEqual(hex('0304'));
    const sha256 = new Hpke(DHKEM_P256_HKDF_SHA256, HKDF_SHA256, AES_256_GCM);
    expect(() => sha256.open(kp.privateKey, sealed.enc, hex('01'), hex('02'), sealed.ciphertext)).toThrow(
      decryptFailed,
    );
  });

  it.each([
    ['X448', DHKEM_X448_HKDF_SHA512, 56, 56, 64],
    ['P-384', DHKEM_P384_HKDF_SHA384, 48, 97, 48],
    ['P-521', DHKEM_P521_HKDF_SHA512, 66, 133, 64],
  ] as const)('DHKEM(%s): Nsk, Npk, Nsecret; encap/decap agree', (_n, kem, nSk, nPk, nSecret) => {
    expect([kem.privateKeyLength, kem.publicKeyLength, kem.encLength, kem.secretLength]).toEqual([
      nSk,
      nPk,
      nPk,
      nSecret,
    ]);
    const kp = kem.deriveKeyPair(hex('2a'.repeat(nSk)));
    const { sharedSecret, enc } = kem.encap(kp.publicKey);
    expect(sharedSecret).toHaveLength(nSecret);
    expect(kem.decap(enc, kp.privateKey)).toEqual(sharedSecret);
  });

  it('a P-521 scalar written without its leading zero byte is the same key (MLS vectors do that)', () => {
    const suite = cipherSuiteById(5);
    let ikm = 0;
    while (DHKEM_P521_HKDF_SHA512.deriveKeyPair(Uint8Array.of(ikm)).privateKey[0] !== 0) ikm++;
    const kp = DHKEM_P521_HKDF_SHA512.deriveKeyPair(Uint8Array.of(ikm));
    const short = kp.privateKey.subarray(1);
    expect(DHKEM_P521_HKDF_SHA512.publicKeyOf(short)).toEqual(kp.publicKey);
    const { kemOutput, ciphertext } = suite.hpkeSeal(kp.publicKey, hex('01'), hex('02'), hex('03'));
    expect(suite.hpkeOpen(short, kemOutput, hex('01'), hex('02'), ciphertext)).toEqual(hex('03'));
    expect(suite.verify(kp.publicKey, hex('04'), suite.sign(short, hex('04')))).toBe(true);
    // Longer than Nsk is still refused.
    expect(() => suite.sign(Uint8Array.of(0, ...kp.privateKey), hex('04'))).toThrow(
      expect.objectContaining({ failure: 'invalid' }),
    );
  });

  it('P-521 derived scalars keep only the low bit of their first byte', () => {
    for (let i = 0; i < 16; i++) {
      expect(DHKEM_P521_HKDF_SHA512.deriveKeyPair(Uint8Array.of(i)).privateKey[0]! & 0xfe).toBe(0);
    }
  });

  it('the KeyObject cache is bounded', () => {
    let made = 0;
    const key = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.alloc(32, 1)]),
      format: 'der',
      type: 'spki',
    });
    const cache = new KeyObjectCache(() => {
      made++;
      return key;
    }, 2);
    cache.get(hex('01'));
    cache.get(hex('02'));
    cache.get(hex('01'));
    cache.get(hex('03')); // evicts 02, the least recently used
    cache.get(hex('01'));
    expect(made).toBe(3);
    cache.get(hex('02'));
    expect(made).toBe(4);
  });
});
