/** HPKE (RFC 9180 base mode) and the cipher suites: RFC 9180 test vector A.1 and round trips. */
import { toHex, hex } from '../../../../test/support/mls-vectors';
import { AES_128_GCM, DHKEM_P256_HKDF_SHA256, DHKEM_X25519_HKDF_SHA256, Hpke, KeyObjectCache } from './hpke';
import { cipherSuiteById, supportedCipherSuites } from './suites';
import { createPublicKey } from 'node:crypto';

const decryptFailed = expect.objectContaining({ name: 'MlsProtocolError', failure: 'decryptFailed' });

describe('RFC 9180 A.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, mode_base', () => {
  const hpke = new Hpke(DHKEM_X25519_HKDF_SHA256, AES_128_GCM);
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
    const { kemOutput, ciphertext } = suite.hpkeSeal(a.publicKey, info, aad, pt);
    expect(suite.hpkeOpen(a.privateKey, kemOutput, info, aad, ciphertext)).toEqual(pt);
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
  it('unknown suites are unsupported', () => {
    expect(() => cipherSuiteById(4)).toThrow(expect.objectContaining({ failure: 'unsupported' }));
    expect(cipherSuiteById(1).name).toBe('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519');
  });

  it('P-256 keys are a 32-byte scalar and an uncompressed point on the curve', () => {
    const kp = DHKEM_P256_HKDF_SHA256.deriveKeyPair(hex('00'.repeat(32)));
    expect(kp.privateKey).toHaveLength(32);
    expect(kp.publicKey).toHaveLength(65);
    expect(kp.publicKey[0]).toBe(4);
    expect(DHKEM_P256_HKDF_SHA256.publicKeyOf(kp.privateKey)).toEqual(kp.publicKey);
  });

  it('ECDSA signatures are DER', () => {
    const suite = cipherSuiteById(2);
    const sig = suite.sign(suite.signatureGenerateKeyPair().privateKey, hex('00'));
    expect(sig[0]).toBe(0x30);
    expect(sig[1]).toBe(sig.length - 2);
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
